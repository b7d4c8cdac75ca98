"""A container's files from outside: `cp` both ways for running and stopped containers,
`export`, `diff`; through the CLI and through the API with the docker CLI. A stopped
container's root is mounted for the call only, and a symlink in it never leads to the host."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.api_service import ApiService, docker_clis, service_fixture
from tests.support.engine_cli import PYENGINE, EngineEnv, engine_fixture
from tests.support.hoststate import mounts_under

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
CLIS = docker_clis()


def test_cp_export_diff_on_a_stopped_container(engine: EngineEnv, tmp_path: Path) -> None:
    engine.ok("run", "--name", "box", "busybox", "sh", "-c",
              "echo new > /newfile; rm /etc/group; echo more >> /etc/passwd; "
              "ln -s /etc /link-to-etc; ln -s ../../../../../ /escape")  # fmt: skip
    assert engine.ok("diff", "box").splitlines() == [
        "A /escape", "C /etc", "D /etc/group", "C /etc/passwd", "A /link-to-etc", "A /newfile",
    ]  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    engine.ok("cp", "box:/newfile", str(out))
    assert (out / "newfile").read_text() == "new\n"
    engine.ok("cp", "box:/etc", str(out / "etc-copy"))
    assert "root:x:0:0" in (out / "etc-copy" / "passwd").read_text()
    assert not (out / "etc-copy" / "group").exists()
    # Through the container's absolute link: its /etc, not the host's.
    engine.ok("cp", "box:/link-to-etc/passwd", str(out / "via-link"))
    assert (out / "via-link").read_text().endswith("more\n")
    refused = engine("cp", "box:/escape/etc/shadow", str(out / "shadow"))
    assert refused.returncode == 1 and not (out / "shadow").exists()
    (tmp_path / "in.txt").write_text("from host\n")
    engine.ok("cp", str(tmp_path / "in.txt"), "box:/tmp/")
    engine.ok("cp", str(tmp_path / "in.txt"), "box:/renamed.txt")
    assert "A /renamed.txt" in engine.ok("diff", "box").splitlines()
    missing = engine("cp", "box:/nope", str(out))
    assert missing.returncode == 1 and "No such container:path: box:/nope" in missing.stderr
    exported = subprocess.run([PYENGINE, "export", "box"], capture_output=True, env=engine.env,
                              timeout=60, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = set(tar.getnames())
        assert {"newfile", "renamed.txt", "tmp/in.txt", "etc/passwd"} <= names
        assert "etc/group" not in names
    assert mounts_under(engine.root) == []  # the stopped root was mounted for the calls only


def test_cp_into_and_out_of_a_running_container(engine: EngineEnv, tmp_path: Path) -> None:
    engine.ok("run", "-d", "--name", "live", "busybox", "sleep", "300")
    (tmp_path / "f.txt").write_text("live copy\n")
    engine.ok("cp", str(tmp_path / "f.txt"), "live:/tmp/")
    assert engine.ok("exec", "live", "cat", "/tmp/f.txt") == "live copy\n"
    tar_bytes = subprocess.run([PYENGINE, "cp", "live:/tmp/f.txt", "-"], capture_output=True,
                               env=engine.env, timeout=60, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert tar.getnames() == ["f.txt"]


@pytest.mark.parametrize("cli", CLIS)
def test_docker_cp_export_diff_through_the_api(
    service: ApiService, cli: str, tmp_path: Path
) -> None:
    service.docker_ok("run", "--name", "made", "busybox", "sh", "-c", "echo x > /made.txt",
                      cli=cli)  # fmt: skip
    service.docker_ok("cp", "made:/made.txt", str(tmp_path / "got.txt"), cli=cli)  # stopped
    assert (tmp_path / "got.txt").read_text() == "x\n"
    (tmp_path / "put.txt").write_text("put\n")
    service.docker_ok("cp", str(tmp_path / "put.txt"), "made:/put.txt", cli=cli)
    diff = service.docker_ok("diff", "made", cli=cli).splitlines()
    assert "A /made.txt" in diff and "A /put.txt" in diff
    exported = tmp_path / "made.tar"
    service.docker_ok("export", "-o", str(exported), "made", cli=cli)
    with tarfile.open(exported) as tar:
        assert {"made.txt", "put.txt", "bin/busybox"} <= set(tar.getnames())
    service.docker_ok("rm", "made", cli=cli)


def test_container_management_group_and_prune(engine: EngineEnv) -> None:
    engine.ok("container", "run", "--name", "done1", "busybox", "true")
    engine.ok("container", "create", "--name", "made1", "busybox")
    engine.ok("container", "run", "-d", "--name", "up1", "busybox", "sleep", "300")
    assert len(engine.ok("container", "ls", "-aq").split()) == 3
    out = engine.ok("container", "prune", "-f")
    assert out.startswith("Deleted Containers:\n") and out.count("\n") >= 4
    left = engine.ok("container", "ls", "-aq").split()
    assert left == [engine.inspect("up1")["Id"][:12]]  # the running one stays
