"""Container roots on a real kernel: overlayfs over loaded layers, whiteouts, clean teardown."""

import io
import os
import stat
import subprocess
from pathlib import Path

import pytest

from engine.images import api, mounts, rootfs
from engine.images.errors import RootfsError
from engine.images.loader import load_archive
from engine.images.store import Store
from tests.conftest import require, require_binary, require_root
from tests.support.images import (
    ImageSpec,
    directory,
    docker_save,
    engine_root,
    file,
    layer_tar,
    oci_layout,
    symlink,
)

BUSYBOX = Path("/bin/busybox")
pytestmark = pytest.mark.root


@pytest.fixture
def root(tmp_path):
    require_root()
    with engine_root(tmp_path) as path:
        yield path
        assert mounts.mounted_under(path) == [], "a test left a mount behind"


@pytest.fixture(scope="module")
def base_layer():
    require(BUSYBOX.is_file(), "/bin/busybox is missing (apt: busybox-static)")
    return layer_tar([
        file("bin/busybox", BUSYBOX.read_bytes(), 0o755),
        *[symlink(f"bin/{name}", "/bin/busybox") for name in ("sh", "cat", "ls", "rm", "test")],
        file("etc/motd", "base\n"),
        file("etc/secret", "lower\n"),
        file("var/lib/old/a", "a"),
        file("var/lib/old/b", "b"),
        directory("tmp", 0o1777),
    ])  # fmt: skip


TOP = layer_tar([
    file("etc/motd", "top\n"),
    file("etc/.wh.secret"),
    file("var/lib/old/.wh..wh..opq"),
    file("var/lib/old/c", "c"),
])  # fmt: skip


def sh(rootdir: Path, script: str) -> subprocess.CompletedProcess[str]:
    chroot = require_binary("chroot")
    return subprocess.run(
        [chroot, str(rootdir), "/bin/busybox", "env", "PATH=/bin", "sh", "-c", script],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_default_busybox_runs_echo_in_its_root(root):
    require(BUSYBOX.is_file(), "/bin/busybox is missing (apt: busybox-static)")
    image = api.resolve(root, "busybox")
    assert image.tags == ("busybox:latest",)
    assert image.config.cmd == ("sh",)
    merged = rootfs.prepare(root, "bb1", image)
    try:
        chroot = require_binary("chroot")
        done = subprocess.run(
            [chroot, str(merged), "/bin/busybox", "echo", "hello"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stdout) == (0, "hello\n")
        done = sh(merged, "id -un; grep -c nobody /etc/passwd /etc/group; ls /bin/ls /usr/bin/awk")
        assert done.stdout.split() == [
            "root", "/etc/passwd:1", "/etc/group:1", "/bin/ls", "/usr/bin/awk",
        ]  # fmt: skip
        assert stat.S_IMODE((merged / "tmp").stat().st_mode) == 0o1777
        assert [r.container_id for r in rootfs.list_rootfs(root)] == ["bb1"]
        assert rootfs.collect(root, keep={"bb1"}) == []
    finally:
        rootfs.release(root, "bb1")
    assert mounts.mounted_under(root) == []
    assert not (root / "rootfs/bb1").exists()
    assert rootfs.list_rootfs(root) == []
    rootfs.release(root, "bb1")  # absent: fine


def test_layers_whiteouts_and_copy_on_write(root, base_layer):
    load_archive(root, io.BytesIO(docker_save([ImageSpec([base_layer, TOP], tags=["cow:1"])])))
    store = Store(root)
    image = api.find(root, "cow:1")
    top_dir = store.layer_dir(image.layers[1])
    wh = os.lstat(top_dir / "etc/secret")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(top_dir / "var/lib/old", "trusted.overlay.opaque") == b"y"

    one, two = rootfs.prepare(root, "one", image), rootfs.prepare(root, "two", image)
    try:
        done = sh(one, "cat /etc/motd; test -e /etc/secret || echo gone; ls /var/lib/old")
        assert done.stdout.split() == ["top", "gone", "c"], done.stderr
        assert sh(one, "echo mine > /tmp/new; rm /etc/motd").returncode == 0
        assert sh(two, "cat /etc/motd; test -e /tmp/new || echo absent").stdout.split() == [
            "top", "absent",
        ]  # fmt: skip
        upper = root / "rootfs/one/upper"
        assert (upper / "tmp/new").read_text() == "mine\n"
        assert stat.S_ISCHR(os.lstat(upper / "etc/motd").st_mode)
        assert (top_dir / "etc/motd").read_text() == "top\n"  # the shared layer is untouched
    finally:
        assert sorted(rootfs.collect(root, keep={"other"})) == ["one", "two"]
    assert rootfs.list_rootfs(root) == []


def test_oci_layout_image_runs(root, base_layer):
    spec = ImageSpec(
        [base_layer, layer_tar([file("etc/msg", "from oci\n")])],
        {"Cmd": ["cat", "/etc/msg"]}, ["oci/test:1"], gzip_layers=True,
    )  # fmt: skip
    load_archive(root, io.BytesIO(oci_layout([spec], nested_index=True)))
    image = api.find(root, "oci/test:1")
    merged = rootfs.prepare(root, "oci1", image)
    try:
        done = sh(merged, " ".join(image.config.cmd))
        assert (done.returncode, done.stdout) == (0, "from oci\n")
    finally:
        rootfs.release(root, "oci1")


def test_prepare_is_idempotent_and_remounts_after_unmount(root, base_layer):
    load_archive(root, io.BytesIO(docker_save([ImageSpec([base_layer], tags=["a:1"])])))
    load_archive(root, io.BytesIO(docker_save([ImageSpec([TOP], tags=["b:1"])])))
    image = api.find(root, "a:1")
    try:
        merged = rootfs.prepare(root, "c1", image)
        assert rootfs.prepare(root, "c1", image) == merged
        assert mounts.mounted_under(root / "rootfs") == [merged]
        assert sh(merged, "echo kept > /etc/state").returncode == 0
        rootfs.unmount(root, "c1")
        assert mounts.mounted_under(root) == []
        assert rootfs.list_rootfs(root)[0].mounted is False
        merged = rootfs.prepare(root, "c1", image)
        assert sh(merged, "cat /etc/state").stdout == "kept\n"
        with pytest.raises(RootfsError, match="already has a root"):
            rootfs.prepare(root, "c1", api.find(root, "b:1"))
    finally:
        rootfs.release(root, "c1")


def test_failed_prepare_leaves_nothing(root, base_layer):
    load_archive(root, io.BytesIO(docker_save([ImageSpec([base_layer], tags=["a:1"])])))
    image = api.find(root, "a:1")
    with pytest.raises(RootfsError, match="invalid container id"):
        rootfs.prepare(root, "../escape", image)
    layer = Store(root).layer_dir(image.layers[0])
    layer.rename(layer.with_name("hidden"))
    with pytest.raises(RootfsError, match="missing layers"):
        rootfs.prepare(root, "c2", image)
    assert not (root / "rootfs/c2").exists()
    assert mounts.mounted_under(root) == []


def test_rmi_force_keeps_the_layers_a_root_mounts(root, base_layer):
    load_archive(root, io.BytesIO(docker_save([ImageSpec([base_layer, TOP], tags=["a:1"])])))
    image = api.find(root, "a:1")
    merged = rootfs.prepare(root, "c3", image)
    try:
        done = api.remove(root, "a:1", force=True)
        assert done.deleted == (image.id,)  # the image goes, its layers stay for c3
        assert sh(merged, "cat /etc/motd").stdout == "top\n"
    finally:
        rootfs.release(root, "c3")
    assert sorted(api.prune(root).deleted) == sorted(image.layers)
    assert list((root / "images/layers").iterdir()) == []


def test_deep_stacks_mount_past_the_option_page(root, base_layer):
    # 60 layers of ~150-byte paths: four pages of options, so the per-layer `lowerdir+` path
    layers = [base_layer] + [
        layer_tar([file(f"layers/{n:02d}", str(n)), file("etc/top", str(n))]) for n in range(59)
    ]
    load_archive(root, io.BytesIO(docker_save([ImageSpec(layers, tags=["deep:1"])])))
    image = api.find(root, "deep:1")
    assert sum(len(str(Store(root).layer_dir(d))) + 1 for d in image.layers) > 4096
    merged = rootfs.prepare(root, "deep", image)
    try:
        done = sh(merged, "cat /etc/top; echo; ls /layers")
        assert done.stdout.split() == ["58"] + [f"{n:02d}" for n in range(59)], done.stderr
    finally:
        rootfs.release(root, "deep")
