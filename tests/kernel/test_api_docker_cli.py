"""The Docker Engine API (`pyengine system service`) driven by the real docker CLI: Debian's
20.10 and, where the machine has one, a newer CLI. Containers made through the API are the
records `pyengine` shows, and the other way round."""

import contextlib
import os
import subprocess
import urllib.error
from pathlib import Path

import pytest

from tests.conftest import free_port, require_binary
from tests.support.api_service import DEBIAN_DOCKER, ApiService, docker_clis, service_fixture
from tests.support.engine_cli import EngineEnv, engine_fixture, http_get, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
CLIS = docker_clis()


@pytest.mark.parametrize("cli", CLIS)
def test_version_names_the_server_and_its_api(service: ApiService, cli: str) -> None:
    out = service.docker_ok("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}",
                            cli=cli)  # fmt: skip
    assert out.split() == ["1.41", "linux"]
    info = service.docker_ok("info", "--format", "{{.OSType}} {{.LoggingDriver}}", cli=cli)
    assert info.split() == ["linux", "json-file"]


@pytest.mark.parametrize("cli", CLIS)
def test_run_rm_gives_output_streams_and_exit_code(service: ApiService, cli: str) -> None:
    done = service.docker("run", "--rm", "busybox", "sh", "-c",
                          "echo to-out; echo to-err >&2; exit 3", cli=cli)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (3, "to-out\n", "to-err\n")
    ok = service.docker("run", "--rm", "busybox", "true", cli=cli)
    assert (ok.returncode, ok.stdout) == (0, "")
    # --rm: gone for both adapters once the CLI returns.
    assert service.engine.ok("ps", "-aq") == ""
    assert service.docker_ok("ps", "-aq", cli=cli) == ""


def test_one_record_for_both_adapters(service: ApiService) -> None:
    cid = service.docker_ok("run", "-d", "--name", "api-made", "busybox", "sh", "-c",
                            "echo hello; echo oops >&2; exec sleep 60").strip()  # fmt: skip
    assert len(cid) == 64
    service.engine.ok("run", "-d", "--name", "cli-made", "busybox", "sleep", "60")
    assert "api-made" in service.engine.ok("ps")
    listed = service.docker_ok("ps", "--format", "{{.Names}} {{.Status}}").splitlines()
    assert sorted(line.split()[0] for line in listed) == ["api-made", "cli-made"]
    assert all(" Up " in f" {line} " for line in listed), listed
    fmt = "{{.State.Status}} {{.Name}} {{.Config.Image}} {{.State.Running}}"
    assert service.docker_ok("inspect", "--format", fmt, "cli-made").split() == [
        "running", "/cli-made", "busybox", "true"]  # fmt: skip
    wait_for(lambda: "hello" in service.docker_ok("logs", "api-made"), 10, "the log")
    logs = service.docker("logs", "api-made")
    assert (logs.stdout, logs.stderr) == ("hello\n", "oops\n")
    refused = service.docker("rm", "api-made")
    assert refused.returncode == 1 and "cannot remove a running container" in refused.stderr
    assert service.docker_ok("stop", "-t", "1", "api-made").strip() == "api-made"
    assert service.engine.state("api-made")["Status"] == "exited"
    service.docker_ok("rm", "-f", "api-made", "cli-made")
    assert service.engine.ok("ps", "-aq") == ""
    missing = service.docker("inspect", "api-made")
    assert missing.returncode == 1 and "No such object: api-made" in missing.stderr


def test_published_port_serves_a_page(service: ApiService) -> None:
    port = free_port()
    service.docker_ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox",
                      "sh", "-c", "echo hi > /i.html && exec httpd -f -p 80 -h /")  # fmt: skip

    def serves() -> bool:
        with contextlib.suppress(OSError, urllib.error.URLError):
            return http_get(f"http://127.0.0.1:{port}/i.html", timeout=2) == "hi\n"
        return False

    wait_for(serves, 20, "httpd behind the published port")
    assert service.docker_ok("port", "web").strip() == f"80/tcp -> 127.0.0.1:{port}"
    taken = service.docker("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert taken.returncode == 125 and "already allocated" in taken.stderr
    # The failed --rm container is not left behind (dockerd removes it too).
    assert service.docker_ok("ps", "-aq").split() == [service.docker_ok("ps", "-q").strip()]
    service.docker_ok("rm", "-f", "web")


def test_piped_stdin_reaches_run_i_and_exec_i(service: ApiService) -> None:
    done = service.docker("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done",
                          input="line1\nline2\n")  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "line1\nline2\ndone\n")
    service.docker_ok("run", "-d", "--name", "box", "busybox", "sleep", "60")
    piped = service.docker("exec", "-i", "box", "sh", "-c", "cat; exit 6", input="piped\n")
    assert (piped.returncode, piped.stdout) == (6, "piped\n")
    both = service.docker("exec", "box", "sh", "-c", "echo o; echo e >&2; exit 7")
    assert (both.returncode, both.stdout, both.stderr) == (7, "o\n", "e\n")
    missing = service.docker("exec", "box", "no-such-command")
    assert missing.returncode == 127 and "executable file not found" in missing.stdout
    service.docker_ok("exec", "-d", "box", "touch", "/made")
    wait_for(lambda: service.docker("exec", "box", "test", "-e", "/made").returncode == 0,
             10, "the detached exec's file")  # fmt: skip
    service.docker_ok("rm", "-f", "box")


def _in_terminal(service: ApiService, command: str) -> subprocess.CompletedProcess[str]:
    """A docker command under a pseudo-terminal of 31 rows and 101 columns (util-linux script)."""
    script = require_binary("script")
    env = dict(os.environ, DOCKER_HOST=service.url, DOCKER_CONFIG=str(service.config_dir))
    return subprocess.run(
        [script, "-qec", f"stty rows 31 cols 101; {command}", "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env,
        check=False,
    )  # fmt: skip


def test_run_it_and_exec_it_get_a_sized_terminal(service: ApiService) -> None:
    done = _in_terminal(service, "docker run -it --rm busybox sh -c "
                                 "'tty; sleep 0.5; stty size; exit 5'")  # fmt: skip
    assert done.returncode == 5, done.stdout
    assert "/dev/pts/0" in done.stdout and "31 101" in done.stdout
    service.docker_ok("run", "-d", "--name", "box", "busybox", "sleep", "60")
    done = _in_terminal(service, "docker exec -it box sh -c 'sleep 0.5; stty size; exit 4'")
    assert done.returncode == 4 and "31 101" in done.stdout, done.stdout
    service.docker_ok("rm", "-f", "box")


def test_killing_the_server_leaves_containers_serving(engine: EngineEnv) -> None:
    from tests.support.api_service import start_service, stop_service

    first = start_service(engine)
    port = free_port()
    first.docker_ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox",
                    "sh", "-c", "echo hi > /i.html && exec httpd -f -p 80 -h /")  # fmt: skip
    wait_for(lambda: _get(port) == "hi\n", 20, "httpd")
    first.proc.kill()
    first.proc.wait(timeout=10)
    assert _get(port) == "hi\n"
    assert engine.state("web")["Status"] == "running"
    # A new server on the same (stale) socket path takes over where the first one left.
    second = start_service(engine)
    try:
        assert second.docker_ok("ps", "--format", "{{.Names}}").split() == ["web"]
        second.docker_ok("rm", "-f", "web")
    finally:
        stop_service(second)
        stop_service(first)


def _get(port: int) -> str:
    with contextlib.suppress(OSError, urllib.error.URLError):
        return http_get(f"http://127.0.0.1:{port}/i.html", timeout=2)
    return ""


def test_images_through_the_api(service: ApiService) -> None:
    pulled = service.docker("pull", "busybox")
    assert pulled.returncode == 0 and "up to date" in pulled.stdout, pulled.stderr
    refused = service.docker("pull", "alpine")
    assert refused.returncode == 1 and "no registry client yet" in refused.stderr
    service.docker_ok("tag", "busybox", "mybox:1")
    rows = service.docker_ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").split("\n")
    ids = dict(row.split() for row in rows if row)
    assert set(ids) == {"busybox:latest", "mybox:1"} and ids["mybox:1"] == ids["busybox:latest"]
    image_id = service.docker_ok("image", "inspect", "--format", "{{.Id}}", "mybox:1").strip()
    assert image_id.startswith("sha256:" + ids["mybox:1"])
    assert service.docker_ok("rmi", "mybox:1").strip() == "Untagged: mybox:1"
    missing = service.docker("image", "inspect", "mybox:1")
    assert missing.returncode == 1 and "No such image" in missing.stderr


def test_networks_through_the_api(service: ApiService) -> None:
    subnet = service.engine.user_subnet
    bridge = f"com.docker.network.bridge.name={service.engine.user_bridge}"
    net_id = service.docker_ok("network", "create", "--subnet", subnet, "-o", bridge,
                               "appnet").strip()  # fmt: skip
    assert len(net_id) == 64
    fmt = "{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Driver}}"
    assert service.docker_ok("network", "inspect", "--format", fmt, "appnet").split() == [
        "appnet", subnet, "bridge"]  # fmt: skip
    assert "appnet" in service.engine.ok("network", "ls")
    service.docker_ok("run", "-d", "--name", "member", "--network", "appnet", "busybox",
                      "sleep", "60")  # fmt: skip
    addresses = "{{range .Containers}}{{.IPv4Address}}{{end}}"
    members = service.docker_ok("network", "inspect", "--format", addresses, "appnet")
    assert members.strip().startswith(service.engine.prefix), members
    busy = service.docker("network", "rm", "appnet")
    assert busy.returncode == 1 and "endpoint" in busy.stderr
    service.docker_ok("rm", "-f", "member")
    assert service.docker_ok("network", "rm", "appnet").strip() == "appnet"
    assert "appnet" not in service.docker_ok("network", "ls")


def test_top_events_prune_volumes_and_df(service: ApiService) -> None:
    import time

    since = f"{time.time():.3f}"
    service.docker_ok("run", "-d", "--name", "topped", "busybox", "sh", "-c",
                      "sleep 100 & exec sleep 101")  # fmt: skip
    wait_for(lambda: "sleep 100" in service.docker_ok("top", "topped"), 10, "top")
    top = service.docker_ok("top", "topped").splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and len(top) == 3, top
    service.docker_ok("run", "--name", "done1", "busybox", "true")
    service.docker_ok("create", "--name", "made", "busybox", "true")
    pruned = service.docker_ok("container", "prune", "-f")
    assert pruned.count("\n") >= 3 and "Total reclaimed space" in pruned, pruned
    assert service.docker_ok("ps", "-a", "--format", "{{.Names}}").split() == ["topped"]
    until = f"{time.time() + 0.5:.3f}"
    time.sleep(0.6)
    events = service.docker_ok("events", "--since", since, "--until", until,
                               "--format", "{{.Action}} {{.Actor.Attributes.name}}")  # fmt: skip
    seen = events.splitlines()
    for expected in ("create topped", "start topped", "start done1", "die done1",
                     "destroy done1", "destroy made"):  # fmt: skip
        assert expected in seen, seen
    assert service.docker_ok("volume", "ls", "-q") == ""
    service.docker_ok("volume", "create", "dfvol")
    service.docker_ok("run", "--rm", "-v", "dfvol:/d", "busybox", "dd", "if=/dev/zero",
                      "of=/d/blob", "bs=1024", "count=64")  # fmt: skip
    df = service.docker_ok("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
    assert "Containers 1" in df and "Images 1" in df and "Local Volumes 1 65.54kB" in df, df
    service.docker_ok("volume", "rm", "dfvol")
    service.docker_ok("rm", "-f", "topped")


def test_stats_report_the_containers_own_cgroup(service: ApiService) -> None:
    service.docker_ok("run", "-d", "--name", "busy", "-m", "64m", "busybox", "sh", "-c",
                      "while :; do :; done")  # fmt: skip
    service.docker_ok("run", "-d", "--name", "idle", "busybox", "sleep", "60")
    fmt = "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}"
    rows = {row.split()[0]: row.split() for row in
            service.docker_ok("stats", "--no-stream", "--format", fmt).splitlines()}  # fmt: skip
    assert set(rows) == {"busy", "idle"}
    busy_cpu = float(rows["busy"][1].rstrip("%"))
    idle_cpu = float(rows["idle"][1].rstrip("%"))
    assert busy_cpu > 20 and idle_cpu < 5, rows  # a spinning shell against a sleep
    assert rows["busy"][4] == "64MiB" and rows["busy"][5] == "1", rows
    service.docker_ok("rm", "-f", "busy", "idle")


def test_rename_through_either_adapter(service: ApiService) -> None:
    service.docker_ok("run", "-d", "--name", "old", "busybox", "sleep", "60")
    service.docker_ok("rename", "old", "new")
    assert service.engine.inspect("new")["Name"] == "/new"
    service.engine.ok("run", "-d", "--name", "other", "busybox", "sleep", "60")
    taken = service.docker("rename", "new", "other")
    assert taken.returncode == 1 and "is already in use" in taken.stderr
    bad = service.engine("rename", "new", "bad/name")
    assert bad.returncode == 1 and "Invalid container name" in bad.stderr, bad.stderr
    service.engine.ok("rename", "new", "newer")
    assert sorted(service.docker_ok("ps", "--format", "{{.Names}}").split()) == ["newer", "other"]
    service.docker_ok("rm", "-f", "newer", "other")


def test_sigterm_stops_the_server_while_clients_wait(engine: EngineEnv) -> None:
    """A `docker wait` blocks a worker thread for as long as the container runs; the server
    still leaves at once on SIGTERM, and the container goes on."""
    from tests.support.api_service import start_service, stop_service

    service = start_service(engine)
    try:
        service.docker_ok("run", "-d", "--name", "long", "busybox", "sleep", "60")
        env = dict(os.environ, DOCKER_HOST=service.url, DOCKER_CONFIG=str(service.config_dir))
        waiter = subprocess.Popen([DEBIAN_DOCKER, "wait", "long"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for(lambda: _connections(service) >= 1, 10, "the wait request's connection")
    finally:
        stop_service(service)  # SIGTERM: exit 0 within its 30 s, socket removed
    assert waiter.wait(10) != 0  # its connection closed without an answer
    assert engine.state("long")["Status"] == "running"
    engine.ok("rm", "-f", "long")


def _connections(service: ApiService) -> int:
    """Connections the server holds: its socket's path is on the listener and on each one."""
    found = subprocess.run(["ss", "-xp"], capture_output=True, text=True, check=False).stdout
    return found.count(str(service.socket)) - 1


def test_docker_cp_both_ways(service: ApiService, tmp_path: Path) -> None:
    service.docker_ok("run", "-d", "--name", "box", "busybox", "sh", "-c",
                      "mkdir -p /data/sub && echo inner > /data/sub/f && echo top > /data/t"
                      " && ln -s t /data/link && exec sleep 60")  # fmt: skip
    wait_for(lambda: service.docker("exec", "box", "test", "-L", "/data/link").returncode == 0,
             10, "the files")  # fmt: skip
    service.docker_ok("cp", "box:/data/t", str(tmp_path / "t"))
    assert (tmp_path / "t").read_text() == "top\n"
    service.docker_ok("cp", "box:/data", str(tmp_path / "d"))
    assert (tmp_path / "d" / "sub" / "f").read_text() == "inner\n"
    assert os.readlink(tmp_path / "d" / "link") == "t"
    (tmp_path / "in.txt").write_text("from the host\n")
    service.docker_ok("cp", str(tmp_path / "in.txt"), "box:/data/")
    assert service.docker_ok("exec", "box", "cat", "/data/in.txt") == "from the host\n"
    missing = service.docker("cp", "box:/nope", str(tmp_path / "x"))
    # (a 404 to the CLI's HEAD: it says what docker says then)
    assert missing.returncode == 1 and "No such container:path: box:/nope" in missing.stderr
    service.docker_ok("rm", "-f", "box")
