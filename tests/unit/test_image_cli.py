"""`pyengine images|image|import|load|rmi` as a user types them: output and exit codes."""

import io
import json
import subprocess
import sys

import pytest

from engine.cli import main
from tests.support.images import ImageSpec, docker_save, file, layer_tar, leftovers, sha256

LAYER = layer_tar([file("hello.txt", "hi")])


@pytest.fixture
def root(tmp_path, monkeypatch):
    """The engine's roots under tmp_path: a command never touches the host's default ones (nor
    starts a fork server there)."""
    path = tmp_path / "root"
    monkeypatch.setenv("PYENGINE_ROOT", str(path))
    monkeypatch.setenv("PYENGINE_RUN", str(tmp_path / "run"))
    monkeypatch.setenv("PYENGINE_FORKSERVER", "0")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_prints_the_id_and_images_lists_it(root, tmp_path, capsys):
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(LAYER)
    code, out, _ = run(capsys, "import", "-c", 'CMD ["/hello"]', str(tarball), "hello:v1")
    assert code == 0
    image_id = out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    code, out, _ = run(capsys, "images")
    header, row = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert row.split()[:3] == ["hello", "v1", image_id[7:19]]
    assert row.endswith("   2B")
    assert run(capsys, "images", "-q")[1] == image_id[7:19] + "\n"
    assert run(capsys, "image", "ls", "--no-trunc", "-q")[1] == image_id + "\n"
    assert run(capsys, "images", "other")[1].count("\n") == 1
    assert run(capsys, "images", "-q", "-f", "reference=hel*")[1] == image_id[7:19] + "\n"
    assert run(capsys, "images", "-q", "-f", "dangling=true")[1] == ""
    assert run(capsys, "images", "-f", "nonsense")[0] == 125
    code, out, _ = run(capsys, "image", "inspect", "-f", "{{json .Config.Cmd}}", "hello:v1")
    assert (code, out) == (0, '["/hello"]\n')


def test_load_from_file_and_rmi(root, tmp_path, capsys):
    archive = tmp_path / "saved.tar"
    spec = ImageSpec([LAYER], {"Cmd": ["x"]}, ["web:1", "web:2"])
    archive.write_bytes(docker_save([spec]))
    code, out, _ = run(capsys, "load", "-i", str(archive))
    assert (code, out) == (0, "Loaded image: web:1\nLoaded image: web:2\n")
    code, out, _ = run(capsys, "image", "tag", "web:1", "copy")
    assert code == 0
    code, out, err = run(capsys, "rmi", "web:1", "nosuch", "web:2")
    assert code == 1
    assert out == "Untagged: web:1\nUntagged: web:2\n"
    assert err == "pyengine: No such image: nosuch\n"
    code, out, _ = run(capsys, "image", "rm", "copy")
    assert code == 0
    assert out.splitlines() == [
        "Untagged: copy:latest",
        f"Deleted: {sha256(spec.blob())}",
        f"Deleted: {sha256(LAYER)}",
    ]
    assert leftovers(root) == []


def test_errors_exit_1_with_a_message(root, tmp_path, capsys):
    code, _, err = run(capsys, "image", "inspect", "nosuch")
    assert (code, err) == (1, "pyengine: No such image: nosuch\n")
    code, _, err = run(capsys, "load", "-i", str(tmp_path / "absent.tar"))
    assert code == 1 and "absent.tar: No such file or directory" in err
    bad = tmp_path / "bad.tar"
    bad.write_bytes(layer_tar([file("x", "y")]))
    code, _, err = run(capsys, "load", "-i", str(bad))
    assert code == 1 and "manifest.json" in err
    code, _, err = run(capsys, "import", str(bad), "UPPER")
    assert code == 1 and "invalid reference format" in err
    code, _, err = run(capsys, "import", "https://example.com/x.tar")
    assert code == 1 and "download" in err
    assert run(capsys, "rmi")[0] == 125  # a usage error, as docker's own
    assert leftovers(root) == []


def test_prune_reports_reclaimed_space(root, capsys):
    from engine.images.loader import load_archive

    load_archive(root, io.BytesIO(docker_save([ImageSpec([LAYER])])))
    code, out, _ = run(capsys, "image", "prune", "-f")
    assert code == 0
    assert out.startswith("Deleted Images:\ndeleted: sha256:")
    assert out.endswith("\nTotal reclaimed space: 2B\n")


def test_concurrent_imports_of_one_tarball_publish_one_layer(root, tmp_path):
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(layer_tar([file(f"f{i}", str(i) * 1000) for i in range(200)]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "engine", "import", str(tarball), f"same:{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, results
    ids = {out.strip() for out, _ in results}
    assert len(ids) <= 4  # created times differ, so ids may differ; the layer may not
    assert len(list((root / "images/layers").iterdir())) == 1
    assert list((root / "images/tmp").iterdir()) == []
    refs = json.loads((root / "images/repositories.json").read_text())["refs"]
    assert sorted(refs) == [f"docker.io/library/same:{n}" for n in range(4)]


def test_rmi_knows_the_engines_containers(root, capsys):
    from engine.containers.record import ContainerConfig, ContainerRecord
    from engine.containers.store import ContainerStore
    from engine.images.loader import load_archive

    (loaded,) = load_archive(root, io.BytesIO(docker_save([ImageSpec([LAYER], tags=["app:1"])])))
    store = ContainerStore(root)
    record = ContainerRecord(
        id="f" * 64, name="web", created=1.0,
        config=ContainerConfig(image="app:1", image_id=loaded.image_id),
    )  # fmt: skip
    with store.locked():
        store.add(record)
    code, _, err = run(capsys, "rmi", "app:1")
    assert code == 1 and "container ffffffffffff is using its referenced image" in err
    store.write(record.with_state(status="running", pid=1))
    code, _, err = run(capsys, "rmi", "-f", "app:1")
    assert code == 1 and "(cannot be forced) - image is being used by running container" in err
    store.write(record.with_state(status="exited"))
    code, out, _ = run(capsys, "rmi", "-f", "app:1")
    assert code == 0 and f"Deleted: {loaded.image_id}" in out
