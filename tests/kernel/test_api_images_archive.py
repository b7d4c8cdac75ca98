"""Images in and out as archives through the API and the CLI: `save` (docker-archive) and
`load`, `import` from a root filesystem tar, `history`; with both docker CLIs and docker-py.
The saved busybox keeps its image id; a saved image loads back with every layer verified."""

import io
import json
import subprocess
import tarfile
from pathlib import Path

import docker
import pytest

from tests.support.api_service import ApiService, docker_clis, service_fixture
from tests.support.engine_cli import PYENGINE, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
CLIS = docker_clis()


def _rootfs_tar(path: Path) -> None:
    """A tiny root: /bin/busybox (static) and one file."""
    with tarfile.open(path, "w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        info = tarfile.TarInfo("etc/msg")
        data = b"imported\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("cli", CLIS)
def test_save_load_import_history_with_the_docker_cli(
    service: ApiService, cli: str, tmp_path: Path
) -> None:
    service.docker_ok("pull", "busybox", cli=cli)  # the built-in one: made on first use
    busybox_id = service.docker_ok("image", "inspect", "-f", "{{.Id}}", "busybox", cli=cli).strip()
    archive = tmp_path / "bb.tar"
    service.docker_ok("save", "-o", str(archive), "busybox", cli=cli)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    assert manifest[0]["Config"] == busybox_id.removeprefix("sha256:") + ".json"
    service.docker_ok("rmi", "busybox", cli=cli)
    loaded = service.docker_ok("load", "-i", str(archive), cli=cli)
    assert "Loaded image: busybox:latest" in loaded
    assert service.docker_ok("image", "inspect", "-f", "{{.Id}}", "busybox", cli=cli).strip() == (
        busybox_id
    )
    root = tmp_path / "root.tar"
    _rootfs_tar(root)
    new_id = service.docker_ok("import", "-c", "CMD [\"/bin/busybox\", \"cat\", \"/etc/msg\"]",
                               str(root), "imported:1", cli=cli).strip()  # fmt: skip
    assert new_id.startswith("sha256:")
    assert service.docker_ok("run", "--rm", "imported:1", cli=cli) == "imported\n"
    history = service.docker_ok("history", "--no-trunc", "--format", "{{.ID}} {{.Size}}",
                                "imported:1", cli=cli).split()  # fmt: skip
    assert history[0] == new_id and history[1].endswith("MB")
    missing = service.docker("save", "nosuch:1", cli=cli)
    assert missing.returncode == 1 and "nosuch" in missing.stderr
    # And the engine's own CLI reads what the API wrote, and the other way round.
    rows = [line.split()[:2] for line in service.engine.ok("images").splitlines()]
    assert ["imported", "1"] in rows


def test_save_load_with_docker_py_and_the_cli_pipe(service: ApiService, tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=service.url, version="auto", timeout=60)
    try:
        client.images.pull("busybox")
        image = client.images.get("busybox")
        data = b"".join(image.save(named=True))
        image.tag("copy", "1")
        client.images.remove("copy:1")
        [again] = client.images.load(data)
        assert again.id == image.id
        history = image.history()
        assert history[0]["Id"] == image.id and history[0]["Size"] > 0
    finally:
        client.close()
    # pyengine save | pyengine load, in one pipe, into a second root.
    other = service.engine.env | {"PYENGINE_ROOT": str(tmp_path / "other")}
    save = subprocess.Popen([PYENGINE, "save", "busybox"], stdout=subprocess.PIPE,
                            env=service.engine.env)  # fmt: skip
    load = subprocess.run([PYENGINE, "load"], stdin=save.stdout, capture_output=True, text=True,
                          env=other, timeout=120, check=False)  # fmt: skip
    assert save.stdout is not None
    save.stdout.close()
    assert save.wait(timeout=60) == 0 and load.returncode == 0, load.stderr
    assert load.stdout == "Loaded image: busybox:latest\n"


def test_bad_archives_are_refused_and_leave_nothing(service: ApiService) -> None:
    refused = [
        ("POST", "/v1.41/images/load", b"not a tar at all", 400, "invalid archive"),
        ("POST", "/v1.41/images/create?fromSrc=-&repo=x", b"garbage", 400, "invalid tarball"),
        ("POST", "/v1.41/images/create?fromSrc=http://x/y.tar", b"", 501, "issue 16"),
        ("GET", "/v1.41/images/nosuch/get", None, 404, "No such image: nosuch"),
        ("GET", "/v1.41/containers/nosuch/export", None, 404, "No such container: nosuch"),
    ]
    for method, path, body, status, message in refused:
        got, reply = service.request(method, path, body)
        assert got == status and message in reply["message"], (path, got, reply)
    assert service.alive()
    staging = service.engine.root / "images" / "tmp"
    assert not staging.exists() or list(staging.iterdir()) == []  # no half image kept
