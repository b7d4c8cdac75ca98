"""Unpack one layer tar into a directory, safely, turning whiteouts into overlayfs form.

A layer is untrusted input. Every entry is placed by walking its parent directories inside the
destination without following symlinks, so `../x`, a symlink-then-file pair or a hard link to a
path outside cannot write outside the layer (such entries are refused); absolute names are taken
relative to the layer, as Docker does. Symlink targets are stored as they are: they are resolved
later inside the container's root, never on the host.

Whiteouts (`.wh.NAME` deletes NAME from lower layers, `.wh..wh..opq` hides a whole lower
directory) become what overlayfs reads: a 0/0 character device and `trusted.overlay.opaque=y`.
Creating those needs root, so the writer is a seam (`Whiteouts`) that unit tests replace.
"""

import errno
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

from engine.images.errors import ImageError, InvalidArchiveError, StoreError, UnsafeLayerError
from engine.images.streams import CHUNK, HashingReader, decompressed

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# A layer may not smuggle overlayfs metadata (redirects, origins) or other trusted.* xattrs in.
_XATTR_PREFIX = "SCHILY.xattr."
_FORBIDDEN_XATTRS = (_XATTR_PREFIX + "trusted.", _XATTR_PREFIX + "user.overlay.")
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)


class Whiteouts(Protocol):
    """Writes the overlayfs form of a deletion and of an opaque directory."""

    def whiteout(self, path: Path) -> None: ...

    def opaque(self, directory: Path) -> None: ...


class OverlayWhiteouts:
    """The real thing: a 0/0 char device, and the opaque xattr (both need CAP_SYS_ADMIN/MKNOD)."""

    def whiteout(self, path: Path) -> None:
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def opaque(self, directory: Path) -> None:
        os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)


@dataclass(frozen=True, slots=True)
class LayerResult:
    """What unpacking found: the diff id (sha256 of the tar), its blob digest and size."""

    diff_id: str
    blob_digest: str
    size: int


def clean_name(name: str) -> str:
    """The entry's path inside the layer, or UnsafeLayerError if it climbs out."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    # normpath would quietly pin `../x` at the root; Docker refuses it as a breakout, and so
    # do we, since a layer that tries is not one to trust with the rest of its entries.
    parts = [p for p in name.split("/") if p not in ("", ".")]
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise UnsafeLayerError(f"invalid layer: {name!r} points outside the layer")
    return cleaned or "."


class _Unpacker:
    def __init__(self, dest: Path, whiteouts: Whiteouts, as_root: bool) -> None:
        self.dest = dest
        self.whiteouts = whiteouts
        self.as_root = as_root
        self.size = 0
        self.dirs: list[tuple[Path, tarfile.TarInfo]] = []

    def parent_of(self, name: str) -> Path:
        """The entry's parent directory, created as needed, never through a symlink."""
        current = self.dest
        for part in posixpath.dirname(name).split("/"):
            if part in ("", "."):
                continue
            current = current / part
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, 0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeLayerError(f"invalid layer: {name!r} goes through a symlink")
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArchiveError(f"invalid layer: {name!r}: a parent is not a directory")
        return current

    def entry(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        name = clean_name(member.name)
        if name == ".":
            if member.isdir():
                self.dirs.append((self.dest, member))
            return
        base = posixpath.basename(name)
        if base != OPAQUE and any(
            part.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX) for part in name.split("/")
        ):
            return  # aufs bookkeeping (.wh..wh.plnk/...) means nothing to overlayfs
        parent = self.parent_of(name)
        if base == OPAQUE:
            self.whiteouts.opaque(parent)
            return
        if base.startswith(WHITEOUT_PREFIX):
            target = base.removeprefix(WHITEOUT_PREFIX)
            if target in ("", ".", ".."):
                raise UnsafeLayerError(f"invalid layer: bad whiteout {name!r}")
            self.remove(parent / target)
            self.whiteouts.whiteout(parent / target)
            return
        path = parent / base
        if not (member.isdir() and path.is_dir() and not path.is_symlink()):
            self.remove(path)
        if member.isdir():
            if not path.exists():
                os.mkdir(path, 0o755)
            self.dirs.append((path, member))
            return
        if member.isreg():
            self.write_file(path, member, tar)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            target_name = clean_name(member.linkname)
            source = self.parent_of(target_name) / posixpath.basename(target_name)
            if not os.path.lexists(source) or (source.is_dir() and not source.is_symlink()):
                raise InvalidArchiveError(f"invalid layer: hard link {name!r} has no target")
            os.link(source, path, follow_symlinks=False)
            return  # a hard link shares its target's inode: metadata is the target's
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(
                path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor)
            )
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            return  # sparse/contiguous files arrive as regular ones; anything else is skipped
        self.metadata(path, member)

    def write_file(self, path: Path, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        source = tar.extractfile(member)
        assert source is not None  # a regular member always has data
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
        self.size += member.size

    def metadata(self, path: Path, member: tarfile.TarInfo) -> None:
        if self.as_root:
            os.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith(_XATTR_PREFIX) and not key.startswith(_FORBIDDEN_XATTRS):
                try:
                    os.setxattr(
                        path,
                        key[len(_XATTR_PREFIX) :],
                        value.encode("utf-8", "surrogateescape"),
                        follow_symlinks=False,
                    )
                except OSError as exc:
                    if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                        raise
        if not member.issym():
            # after lchown: chown clears setuid bits
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    @staticmethod
    def remove(path: Path) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def finish(self) -> None:
        # Directory times and modes last: writing into them moved their mtime, and a
        # read-only directory would have refused its own children.
        for path, member in reversed(self.dirs):
            # A later entry may have replaced the directory with a symlink, and chmod follows
            # symlinks: only a directory that is still one gets its metadata.
            if os.path.isdir(path) and not os.path.islink(path):
                self.metadata(path, member)


def unpack_layer(
    raw: IO[bytes],
    dest: Path,
    *,
    what: str = "layer",
    whiteouts: Whiteouts | None = None,
    as_root: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> LayerResult:
    """Unpack the (possibly compressed) layer tar `raw` into the existing empty directory `dest`.

    Returns the digests; raises InvalidArchiveError (or UnsafeLayerError) on bad input, in
    which case `dest` holds partial content that the caller discards.
    """
    blob = HashingReader(raw)
    unpacker = _Unpacker(
        dest, whiteouts or OverlayWhiteouts(), os.geteuid() == 0 if as_root is None else as_root
    )
    os.chmod(dest, 0o755)
    try:
        plain = HashingReader(decompressed(cast(IO[bytes], blob), what))
        with tarfile.open(fileobj=cast(IO[bytes], plain), mode="r|") as tar:
            for member in tar:
                if progress is not None:
                    progress(member.name)
                unpacker.entry(member, tar)
        plain.drain()
        blob.drain()
        unpacker.finish()
    except ImageError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise InvalidArchiveError(f"invalid {what}: {exc or 'unexpected end of data'}") from None
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:
            raise StoreError(f"could not unpack {what}: {exc.strerror}") from None
        if exc.filename is None:  # raised by a decompressor, not by the filesystem
            raise InvalidArchiveError(f"invalid {what}: {exc}") from None
        raise InvalidArchiveError(
            f"could not unpack {what}: {exc.strerror}: {exc.filename}"
        ) from None
    return LayerResult(diff_id=plain.digest(), blob_digest=blob.digest(), size=unpacker.size)
