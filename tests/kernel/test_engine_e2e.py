"""`pyengine` end to end with real runc, namespaces, nftables and pyproxy: a published web server
reached from the host and from another namespace, then stopped and removed without a trace;
--rm, -i, --network none, user networks and the OOM killer."""

import contextlib
import json
import urllib.error

import pytest

from tests.conftest import free_port
from tests.support.engine_cli import (
    EngineEnv,
    engine_fixture,
    http_get,
    http_get_in,
    listening,
    wait_for,
)

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

# httpd serves /www; /cgi-bin/addr answers with the client address the container sees.
WEB = (
    "mkdir -p /www/cgi-bin && echo hi > /www/index.html"
    " && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n'"
    " > /www/cgi-bin/addr && chmod +x /www/cgi-bin/addr && exec httpd -f -p 80 -h /www"
)


def _serves(url: str) -> bool:
    with contextlib.suppress(OSError, urllib.error.URLError):
        return http_get(url, timeout=2) == "hi\n"
    return False


def _address(text: str) -> str:
    """busybox httpd prints an IPv4 client of its IPv6 socket as `[::ffff:a.b.c.d]`."""
    return text.strip().removeprefix("[").removesuffix("]").removeprefix("::ffff:")


def test_published_web_server_end_to_end(engine: EngineEnv) -> None:
    p, q = free_port(), free_port(host="0.0.0.0")
    cid = engine.ok(
        "run", "-d", "-p", f"127.0.0.1:{p}:80", "-p", f"{q}:80", "--name", "web",
        "busybox", "sh", "-c", WEB,
    ).strip()  # fmt: skip
    assert len(cid) == 64 and int(cid, 16) >= 0
    wait_for(lambda: _serves(f"http://127.0.0.1:{p}/"), 20, "httpd behind 127.0.0.1:P")
    assert http_get(f"http://127.0.0.1:{q}/") == "hi\n"

    # From another namespace to the host's own address: through our nftables DNAT, so the
    # container sees the client's real address (a proxy would show the bridge's gateway).
    ns, host_ip = engine.client_ns()
    done = http_get_in(ns, f"http://{host_ip}:{q}/")
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    done = http_get_in(ns, f"http://{host_ip}:{q}/cgi-bin/addr")
    assert done.returncode == 0, done.stderr
    assert _address(done.stdout) == f"{engine.prefix}250"
    # The 127.0.0.1 binding is not reachable from outside.
    done = http_get_in(ns, f"http://{host_ip}:{p}/", timeout=3)
    assert done.returncode != 0 and "hi" not in done.stdout

    row = engine.row("web")
    assert row.startswith(cid[:12]) and " Up " in row
    assert f"127.0.0.1:{p}->80/tcp" in row and f"0.0.0.0:{q}->80/tcp" in row
    ports = set(engine.ok("port", "web").splitlines())
    assert {f"80/tcp -> 127.0.0.1:{p}", f"80/tcp -> 0.0.0.0:{q}"} <= ports
    assert f"127.0.0.1:{p}" in engine.ok("port", "web", "80/tcp").splitlines()
    done = engine("port", "web", "81")
    assert done.returncode == 1 and "No public port '81/tcp'" in done.stderr
    info = engine.inspect("web")
    assert info["State"]["Running"] is True and info["State"]["Pid"] > 0
    assert info["NetworkSettings"]["IPAddress"].startswith(engine.prefix)
    assert engine.nft_port_elements() != []

    assert engine.ok("stop", "-t", "1", "web") == "web\n"
    row = engine.row("web")
    assert "Exited (137)" in row and "->80/tcp" not in row
    assert engine.ok("port", "web") == ""
    assert not listening("127.0.0.1", p) and not listening("0.0.0.0", q)
    assert engine.nft_port_elements() == []
    assert not [pr for pr in engine.processes() if "pyproxy" in " ".join(pr.argv)]
    # The page is gone from both paths.
    assert not _serves(f"http://127.0.0.1:{p}/")
    assert http_get_in(ns, f"http://{host_ip}:{q}/", timeout=3).returncode != 0

    assert engine.ok("rm", "web") == "web\n"
    assert engine.ps_rows() == []
    assert engine.engine_leaks(engine.container_ids()) == []


def test_auto_remove_attached_and_detached(engine: EngineEnv) -> None:
    # `docker run --rm` returns once the container is gone (the CLI waits for "removed"),
    # so the next command never sees it; a few rounds, since a lost race shows only sometimes.
    for i in range(4):
        done = engine("run", "--rm", "-i", "--name", f"attached{i}", "busybox", "sh", "-c",
                      "cat; echo out; exit 3", input="in\n")  # fmt: skip
        assert (done.returncode, done.stdout) == (3, "in\nout\n"), done.stderr
        assert engine.ps_rows() == [], f"round {i}: still listed after run --rm returned"
    cid = engine.ok("run", "-d", "--rm", "--name", "detached", "busybox", "sleep", "0.3").strip()
    assert len(cid) == 64
    wait_for(lambda: engine.ps_rows() == [], 20, "the --rm -d container to remove itself")
    assert engine("inspect", "detached").returncode == 1
    assert not (engine.root / "containers" / cid).exists()
    assert engine.engine_leaks(engine.container_ids()) == []


def test_interactive_stdin_is_forwarded(engine: EngineEnv) -> None:
    done = engine("run", "-i", "--rm", "busybox", "cat", input="a\nb\n")
    assert (done.returncode, done.stdout) == (0, "a\nb\n"), done.stderr
    done = engine("run", "-i", "--rm", "busybox", "sh", "-c", "wc -l; exit 4", input="1\n2\n3\n")
    assert (done.returncode, done.stdout.strip()) == (4, "3"), done.stderr


def test_network_none_has_only_loopback(engine: EngineEnv) -> None:
    done = engine("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    assert done.returncode == 0, done.stderr
    names = [line.split(":")[1].strip() for line in done.stdout.splitlines()]
    assert names == ["lo"]
    done = engine("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
    assert done.returncode == 0 and f"inet {engine.prefix}" in done.stdout, done.stderr


def test_user_network_containers_reach_each_other(engine: EngineEnv) -> None:
    net = f"pyt-net{engine.n}"
    engine.ok(
        "network", "create", "--subnet", engine.user_subnet,
        "-o", f"com.docker.network.bridge.name={engine.user_bridge}", net,
    )  # fmt: skip
    try:
        for name in ("one", "two"):
            engine.ok("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "100")
        ips = {n: engine.inspect(n)["NetworkSettings"]["IPAddress"] for n in ("one", "two")}
        prefix = engine.user_subnet.rsplit(".", 1)[0] + "."
        assert all(ip.startswith(prefix) for ip in ips.values()), ips
        assert ips["one"] != ips["two"]
        for src, dst in (("one", "two"), ("two", "one")):
            done = engine("exec", src, "ping", "-c", "1", "-W", "5", ips[dst])
            assert done.returncode == 0 and "1 packets received" in done.stdout, done.stdout
        engine.ok("rm", "-f", "one", "two")
        endpoints = json.loads(engine.ok("network", "inspect", net))[0]["endpoints"]
        assert endpoints == []
    finally:
        engine("rm", "-f", "one", "two")
        engine("network", "rm", net)


def test_memory_limit_oom_kill(engine: EngineEnv) -> None:
    hog = 'x=$(head -c 50000000 /dev/zero | tr "\\0" a); echo ${#x}'
    done = engine("run", "--name", "hog", "-m", "16m", "busybox", "sh", "-c", hog)
    assert done.returncode == 137, (done.returncode, done.stdout, done.stderr)
    state = engine.state("hog")
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    assert state["OOMKilled"] is True
    assert engine.inspect("hog")["HostConfig"]["Memory"] == 16 * 1024 * 1024
    assert "Exited (137)" in engine.row("hog")
    assert any(e["action"] == "oom" for e in engine.events())
