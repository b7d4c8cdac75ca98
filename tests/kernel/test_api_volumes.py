"""Volumes through the Docker Engine API: the docker CLI's `volume` commands and `run -v` /
`--mount` / `--tmpfs` / `--read-only`, docker-py's volumes, and a compose project whose named
volume outlives `down` and goes with `down -v`. The records are the ones `pyengine` shows."""

import functools
import json
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.support.api_service import ApiService, docker_clis, service_fixture
from tests.support.engine_cli import engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
CLIS = docker_clis()


@pytest.mark.parametrize("cli", CLIS)
def test_docker_volume_commands(service: ApiService, cli: str) -> None:
    assert service.docker_ok("volume", "create", "--label", "a=b", "apivol", cli=cli) == "apivol\n"
    assert service.engine.ok("volume", "ls", "-q") == "apivol\n"  # the same store
    [info] = json.loads(service.docker_ok("volume", "inspect", "apivol", cli=cli))
    assert (info["Name"], info["Driver"], info["Labels"]) == ("apivol", "local", {"a": "b"})
    listed = service.docker_ok("volume", "ls", "--filter", "label=a=b", "-q", cli=cli)
    assert listed.split() == ["apivol"]
    assert service.docker_ok("volume", "ls", "--filter", "label=a=c", "-q", cli=cli) == ""
    out = service.docker_ok("run", "--rm", "-v", "apivol:/v", "busybox", "sh", "-c",
                            "echo through-api > /v/f; cat /v/f", cli=cli)  # fmt: skip
    assert out == "through-api\n"
    service.docker_ok("create", "--name", "holder", "-v", "apivol:/v", "busybox", cli=cli)
    refused = service.docker("volume", "rm", "apivol", cli=cli)
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    missing = service.docker("volume", "inspect", "nosuchvol", cli=cli)
    assert missing.returncode == 1 and "no such volume" in missing.stderr.lower()
    service.docker_ok("rm", "holder", cli=cli)
    assert service.docker_ok("volume", "rm", "apivol", cli=cli) == "apivol\n"
    assert service.engine.ok("volume", "ls", "-q") == ""


@pytest.mark.parametrize("cli", CLIS)
def test_docker_run_mount_flags(service: ApiService, cli: str, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from-host\n")
    out = service.docker_ok(
        "run", "--rm", "-v", f"{tmp_path}:/h:ro", "--tmpfs", "/t:size=1m",
        "--mount", "type=volume,source=mounted,target=/m", "--read-only", "busybox",
        "sh", "-c", "cat /h/in.txt; grep -c ' /t tmpfs' /proc/mounts; echo x > /m/y; "
        "touch /h/no 2>/dev/null || echo ro-bind; touch /root-file 2>/dev/null || echo ro-root",
        cli=cli,
    )  # fmt: skip
    assert out.split("\n")[:4] == ["from-host", "1", "ro-bind", "ro-root"], out
    assert (service.engine.root / "volumes" / "mounted" / "_data" / "y").read_text() == "x\n"
    # `-v /anon` is Config.Volumes in the API: an anonymous volume that `rm -v` takes along.
    cid = service.docker_ok("create", "-v", "/anon", "busybox", cli=cli).strip()
    mounts = json.loads(service.docker_ok("inspect", "--format", "{{json .Mounts}}", cid, cli=cli))
    assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/anon")]
    service.docker_ok("rm", "-v", cid, cli=cli)
    assert service.engine.ok("volume", "ls", "-q").split() == ["mounted"]
    bad = service.docker("run", "--rm", "--mount", f"type=bind,source={tmp_path}/no,target=/x",
                         "busybox", "true", cli=cli)  # fmt: skip
    assert bad.returncode == 125 and "bind source path does not exist" in bad.stderr


def test_docker_py_volumes(service: ApiService) -> None:
    client = docker.DockerClient(base_url=service.url, version="auto", timeout=60)
    try:
        vol = client.volumes.create("pyvol", labels={"made-by": "docker-py"})
        assert vol.name == "pyvol" and vol.attrs["Labels"] == {"made-by": "docker-py"}
        out = client.containers.run(
            "busybox", ["sh", "-c", "echo py > /d/f; cat /d/f"], remove=True,
            volumes={"pyvol": {"bind": "/d", "mode": "rw"}},
        )  # fmt: skip
        assert out == b"py\n"
        assert [v.name for v in client.volumes.list()] == ["pyvol"]
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("nope")
        box = client.containers.create("busybox", volumes=["pyvol:/d"], name="pybox")
        with pytest.raises(docker.errors.APIError) as in_use:
            vol.remove()
        assert in_use.value.status_code == 409
        box.remove()
        pruned = client.volumes.prune(filters={"all": "true"})
        assert pruned["VolumesDeleted"] == ["pyvol"]
        assert client.volumes.list() == []
    finally:
        client.close()


PROJECT = """\
version: "3.8"
services:
  db:
    image: busybox
    command: sh -c "date +%s%N >> /data/boots; exec sleep 60"
    volumes: [dbdata:/data, /scratch]
    stop_signal: SIGKILL
volumes:
  dbdata: {{}}
networks:
  default:
    driver_opts:
      com.docker.network.bridge.name: {bridge}
    ipam:
      config: [{{subnet: "{subnet}"}}]
"""


def _lines_are(path: Path, count: int) -> bool:
    return path.exists() and len(path.read_text().split()) == count


def test_compose_named_volume_outlives_down_and_goes_with_down_v(
    service: ApiService, tmp_path: Path
) -> None:
    engine = service.engine
    (tmp_path / "docker-compose.yml").write_text(
        PROJECT.format(bridge=engine.user_bridge, subnet=engine.user_subnet)
    )
    boots = engine.root / "volumes" / "pyv_dbdata" / "_data" / "boots"
    for round_ in (1, 2):
        up = service.compose("pyv", tmp_path, "up", "-d")
        assert up.returncode == 0, up.stderr
        wait_for(functools.partial(_lines_are, boots, round_), 10,
                 "the container's write into its volume")  # fmt: skip
        down = service.compose("pyv", tmp_path, "down")
        assert down.returncode == 0, down.stderr
        assert "pyv_dbdata" in engine.ok("volume", "ls", "-q")
        assert len(boots.read_text().split()) == round_  # the data survived `down`
    assert sorted(engine.ok("volume", "ls", "-q").split())[-1] == "pyv_dbdata"
    down = service.compose("pyv", tmp_path, "down", "-v")
    assert down.returncode == 0, down.stderr
    # The named volume went; each round's anonymous /scratch stays, as in Docker: a `down`
    # without -v removed its container and left it dangling.
    left = engine.ok("volume", "ls", "-q").split()
    assert len(left) == 2 and all(len(name) == 64 for name in left), left
    dangling = service.docker_ok("volume", "ls", "-q", "--filter", "dangling=true").split()
    assert sorted(dangling) == sorted(left)
    engine.ok("volume", "prune", "-f")
    assert engine.ok("volume", "ls", "-q") == ""
    assert engine.ok("ps", "-aq") == ""
