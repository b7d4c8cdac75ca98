"""A real `docker save` loads here with the same image ids, and its whiteouts work in overlayfs.

A private dockerd (tests.support.dockerd: own roots, socket and bridge, undone exactly) imports a
busybox rootfs, runs `rm` in a container and commits it, so the second layer carries a real
`.wh.` whiteout; `docker save` writes both images, pyengine loads the archive, and the child's
root is mounted and read through chroot.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.images import api, mounts, rootfs
from engine.images.loader import load_archive
from tests.conftest import require, require_binary, require_root
from tests.support import dockerd as dk
from tests.support.images import engine_root

pytestmark = [pytest.mark.root, pytest.mark.slow]
DEBIAN_DOCKER_CLI = "/usr/bin/docker"  # same release as dockerd (a newer CLI may be on PATH)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The archive and docker's own ids for the two tags in it."""
    require_root()
    for name in ("ip", "containerd", "runc", "containerd-shim-runc-v2"):
        require_binary(name)
    dockerd_bin = require_binary("dockerd")
    docker_bin = (
        DEBIAN_DOCKER_CLI if Path(DEBIAN_DOCKER_CLI).is_file() else require_binary("docker")
    )
    require(Path("/bin/busybox").is_file(), "/bin/busybox is missing (apt: busybox-static)")
    work = tmp_path_factory.mktemp("docker-save")
    daemon = dk.DockerHost(dockerd_bin=dockerd_bin, docker_bin=docker_bin)
    try:
        daemon.start()
        rootfs_tar = work / "rootfs.tar"
        dk.write_busybox_rootfs(
            rootfs_tar, "/bin/busybox", ["sh", "cat", "rm", "ls"],
            {"/etc/msg": b"from docker\n", "/etc/doomed": b"x"},
        )  # fmt: skip
        daemon.docker("import", "-c", "ENV FOO=bar", str(rootfs_tar), "interop/base:1")
        cid = daemon.docker(
            "create", "--network", "none", "interop/base:1", "/bin/rm", "/etc/doomed"
        ).strip()
        daemon.docker("start", "-a", cid)
        daemon.docker("commit", "-c", 'CMD ["cat", "/etc/msg"]', cid, "interop/child:2")
        daemon.docker("save", "-o", str(work / "saved.tar"), "interop/base:1", "interop/child:2")
        ids = {
            tag: daemon.docker("image", "inspect", "-f", "{{.Id}}", tag).strip()
            for tag in ("interop/base:1", "interop/child:2")
        }
    finally:
        problems = daemon.teardown()
    assert not problems, "dockerd teardown left the host changed:\n" + "\n".join(problems)
    yield work / "saved.tar", ids


def test_real_docker_save_loads_with_dockers_ids(saved: tuple[Path, dict[str, str]], tmp_path):
    archive, ids = saved
    with engine_root(tmp_path) as root:
        with open(archive, "rb") as f:
            loaded = load_archive(root, f)
        assert {t: item.image_id for item in loaded for t in item.tags} == ids
        child = api.find(root, "interop/child:2")
        assert child.config.cmd == ("cat", "/etc/msg")
        assert "FOO=bar" in child.config.env
        assert len(child.layers) == 2
        merged = rootfs.prepare(root, "real", child)
        try:
            assert (merged / "etc/msg").read_text() == "from docker\n"
            assert not (merged / "etc/doomed").exists()  # the whiteout docker wrote
            done = subprocess.run(
                [require_binary("chroot"), str(merged), *child.config.cmd],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert (done.returncode, done.stdout) == (0, "from docker\n")
        finally:
            rootfs.release(root, "real")
        assert mounts.mounted_under(root) == []
