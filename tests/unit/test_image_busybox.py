"""The default busybox image: built on first use, byte-for-byte the same from the same binary."""

import io
import os
import tarfile
from pathlib import Path

import pytest

from engine.images import api, busybox
from engine.images.errors import ImageNotFoundError
from tests.conftest import require
from tests.support.images import leftovers

BUSYBOX = Path("/bin/busybox")


@pytest.fixture
def binary():
    require(BUSYBOX.is_file(), "/bin/busybox is missing (apt: busybox-static)")
    return BUSYBOX


def test_tree_is_deterministic_and_complete(binary):
    first = busybox.rootfs_tar(binary)
    assert busybox.rootfs_tar(binary) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].linkname == "/bin/busybox"
    assert members["usr/bin/awk"].issym()
    assert members["tmp"].mode == 0o1777
    for name in ("proc", "sys", "dev", "etc/passwd", "etc/group", "etc/nsswitch.conf"):
        assert name in members
    assert {m.mtime for m in members.values()} == {0}
    # Names in /etc/hosts (its own hostname, its peers') never wait on the host's resolver.
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        nsswitch = tar.extractfile("etc/nsswitch.conf")
        assert nsswitch is not None
        assert nsswitch.read().decode().splitlines() == ["hosts: files dns"]


def test_same_binary_same_id_in_two_stores(binary, tmp_path):
    one = busybox.ensure_busybox(tmp_path / "a", binary)
    assert busybox.ensure_busybox(tmp_path / "b", binary) == one
    assert busybox.ensure_busybox(tmp_path / "a", binary) == one  # present: not rebuilt
    assert api.find(tmp_path / "a", "docker.io/library/busybox").id == one


def test_resolve_builds_it_only_for_busybox(binary, tmp_path):
    with pytest.raises(ImageNotFoundError):
        api.resolve(tmp_path, "alpine")
    assert leftovers(tmp_path) == []
    assert api.resolve(tmp_path, "busybox:latest").tags == ("busybox:latest",)
    with pytest.raises(ImageNotFoundError):
        api.find(tmp_path, "busybox:1.36")


def test_a_dynamic_or_missing_binary_is_named(tmp_path):
    with pytest.raises(ImageNotFoundError, match="install busybox-static"):
        api.resolve(tmp_path, "busybox", busybox_binary=tmp_path / "absent")
    dynamic = Path(os.path.realpath("/bin/true"))
    assert not busybox.is_static(dynamic)
    with pytest.raises(ImageNotFoundError, match="static"):
        api.resolve(tmp_path, "busybox", busybox_binary=dynamic)
    assert leftovers(tmp_path) == []


def test_is_static(binary):
    assert busybox.is_static(binary)
