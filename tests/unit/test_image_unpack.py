"""Layer unpacking: content, digests, whiteouts, and entries that try to leave the layer."""

import gzip
import io
import os
import stat
from pathlib import Path

import pytest

from engine.images.errors import InvalidArchiveError, UnsafeLayerError
from engine.images.unpack import LayerResult, Whiteouts, unpack_layer
from tests.support.images import (
    RecordingWhiteouts,
    directory,
    file,
    hardlink,
    layer_tar,
    sha256,
    symlink,
    tree,
)


@pytest.fixture
def dest(tmp_path):
    """The layer dir sits one level down, so an escape would show up in tmp_path."""
    path = tmp_path / "layer"
    path.mkdir()
    return path


def unpack(data: bytes, dest: Path, whiteouts: Whiteouts | None = None) -> LayerResult:
    return unpack_layer(io.BytesIO(data), dest, whiteouts=whiteouts or RecordingWhiteouts())


def test_files_dirs_links_and_metadata(dest):
    data = layer_tar([
        directory("etc", 0o750),
        file("etc/motd", "hi\n", 0o640),
        file("bin/tool", b"\x7fELF", 0o4755),
        symlink("bin/sh", "/bin/tool"),
        hardlink("bin/tool2", "bin/tool"),
    ])  # fmt: skip
    result = unpack(data, dest)
    assert result.diff_id == sha256(data) == result.blob_digest
    assert result.size == 3 + 4
    assert (dest / "etc/motd").read_text() == "hi\n"
    assert stat.S_IMODE((dest / "etc").stat().st_mode) == 0o750
    assert stat.S_IMODE((dest / "etc/motd").stat().st_mode) == 0o640
    assert stat.S_IMODE((dest / "bin/tool").stat().st_mode) == 0o4755
    assert os.readlink(dest / "bin/sh") == "/bin/tool"
    assert (dest / "bin/tool2").stat().st_ino == (dest / "bin/tool").stat().st_ino
    assert (dest / "etc/motd").stat().st_mtime == 1_700_000_000
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def test_gzip_layer_has_tar_diff_id_and_gzip_blob_digest(dest):
    data = layer_tar([file("a", "x")])
    packed = gzip.compress(data)
    result = unpack(packed, dest)
    assert result.diff_id == sha256(data)
    assert result.blob_digest == sha256(packed)
    assert (dest / "a").read_text() == "x"


def test_whiteouts_become_overlay_form(dest):
    whiteouts = RecordingWhiteouts()
    data = layer_tar([
        directory("etc"),
        file("etc/.wh.passwd"),
        file("var/cache/.wh..wh..opq"),
        file("var/cache/new", "n"),
        file(".wh..wh.plnk/123"),
        file(".wh.gone"),
    ])  # fmt: skip
    unpack(data, dest, whiteouts)
    assert whiteouts.whiteouts == [dest / "etc/passwd", dest / "gone"]
    assert whiteouts.opaques == [dest / "var/cache"]
    # The markers themselves are not content: only the opaque dir's new file is.
    assert tree(dest) == ["etc", "var", "var/cache", "var/cache/new"]


def test_absolute_names_stay_inside(tmp_path, dest):
    unpack(layer_tar([file("/etc/passwd", "mine"), file("./etc/group", "g")]), dest)
    assert (dest / "etc/passwd").read_text() == "mine"
    assert tree(tmp_path) == ["layer", "layer/etc", "layer/etc/group", "layer/etc/passwd"]


@pytest.mark.parametrize(
    "entries",
    [
        [file("../escaped", "x")],
        [file("a/../../escaped", "x")],
        [directory("a"), symlink("a/up", "../.."), file("a/up/escaped", "x")],
        [symlink("root", "/"), file("root/escaped", "x")],
        [symlink("tmp", "/tmp"), file("tmp/escaped", "x")],
        [hardlink("stolen", "../../etc/passwd")],
        [file(".wh...", "x")],
    ],
    ids=["dotdot", "nested-dotdot", "relative-symlink", "root-symlink", "abs-symlink",
         "hardlink-out", "whiteout-dotdot"],
)  # fmt: skip
def test_escapes_are_refused(tmp_path, dest, entries):
    before = tree(tmp_path.parent / tmp_path.name)
    with pytest.raises(UnsafeLayerError):
        unpack(layer_tar(entries), dest)
    after = [p for p in tree(tmp_path) if not p.startswith("layer/")]
    assert after == [p for p in before if not p.startswith("layer/")]
    assert not (tmp_path / "escaped").exists()


def test_symlink_then_file_at_its_name_replaces_the_link(dest, tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("keep")
    unpack(layer_tar([symlink("f", str(outside)), file("f", "new")]), dest)
    assert outside.read_text() == "keep"
    assert not (dest / "f").is_symlink()
    assert (dest / "f").read_text() == "new"


def test_directory_replaced_by_a_symlink_keeps_its_mode_to_itself(dest, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    unpack(layer_tar([directory("d", 0o777), symlink("d", str(outside))]), dest)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755
    assert os.readlink(dest / "d") == str(outside)


def test_truncated_tar_is_refused(dest):
    data = layer_tar([file("big", b"x" * 100_000)])
    with pytest.raises(InvalidArchiveError, match="invalid layer"):
        unpack(data[:5000], dest)


def test_corrupt_gzip_is_refused(dest):
    packed = bytearray(gzip.compress(layer_tar([file("a", b"y" * 10_000)])))
    packed[40:60] = b"\x00" * 20
    with pytest.raises(InvalidArchiveError, match="invalid layer"):
        unpack(bytes(packed), dest)


def test_truncated_gzip_is_refused(dest):
    packed = gzip.compress(layer_tar([file("a", os.urandom(50_000))]))
    with pytest.raises(InvalidArchiveError, match="invalid layer"):
        unpack(packed[: len(packed) // 2], dest)


def test_not_a_tar_is_refused(dest):
    with pytest.raises(InvalidArchiveError, match="invalid layer"):
        unpack(b"this is not a tar archive, just some text" * 20, dest)
    with pytest.raises(InvalidArchiveError, match="invalid layer"):
        unpack(b"", dest)


def test_empty_tar_is_an_empty_layer(dest):
    result = unpack(b"\0" * 1024, dest)
    assert result.diff_id == sha256(b"\0" * 1024)
    assert tree(dest) == []


def test_zstd_is_refused_by_name(dest):
    with pytest.raises(InvalidArchiveError, match="zstd"):
        unpack(b"\x28\xb5\x2f\xfd" + b"\0" * 100, dest)
