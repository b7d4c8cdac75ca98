"""`--network container:NAME`: the joining container shares the other's namespace (its address,
its loopback services), its host name and its hosts and resolv.conf files; Docker's refusals
for what the other container owns."""

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def test_joining_another_containers_network(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "web", "-h", "webhost", "busybox", "sh", "-c",
              "echo hello > /index.html; exec httpd -f -p 127.0.0.1:8080 -h /")  # fmt: skip
    ip = engine.inspect("web")["NetworkSettings"]["IPAddress"]
    out = engine.ok("run", "--rm", "--network", "container:web", "busybox", "sh", "-c",
                    "hostname; wget -qO- http://127.0.0.1:8080/index.html; "
                    "ip -4 -o addr show eth0; tail -1 /etc/hosts")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "webhost" and lines[1] == "hello"
    assert f"inet {ip}/" in lines[2] and lines[3] == f"{ip}\twebhost"
    # By id: renaming the other container changes nothing for one that joined it.
    joined = engine.ok("create", "--network", "container:web", "busybox", "true").strip()
    web_id = engine.inspect("web")["Id"]
    assert engine.inspect(joined)["HostConfig"]["NetworkMode"] == f"container:{web_id}"
    engine.ok("rename", "web", "web2")
    assert engine("start", joined).returncode == 0


def test_container_mode_refusals(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "owner", "busybox", "sleep", "300")
    for args, message in [
        (("-p", "80"), "port publishing and the container type network mode"),
        (("-h", "x"), "hostname and the network mode"),
        (("--add-host", "a:1.2.3.4"), "custom host-to-IP mapping and the network mode"),
        (("--dns", "1.1.1.1"), "dns and the network mode"),
        (("--link", "owner:o"), "container type network can't be used with links"),
    ]:
        done = engine("create", "--network", "container:owner", *args, "busybox")
        assert done.returncode == 125 and message in done.stderr, (args, done.stderr)
    missing = engine("create", "--network", "container:nosuch", "busybox")
    assert missing.returncode == 125 and "No such container: nosuch" in missing.stderr
    engine.ok("create", "--name", "idle", "busybox", "true")
    done = engine("run", "--rm", "--network", "container:idle", "busybox", "true")
    assert done.returncode == 125
    assert "cannot join network of a non running container" in done.stderr
    assert len(engine.ok("ps", "-aq").split()) == 2  # idle and owner: nothing else was made
