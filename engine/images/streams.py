"""Byte streams of layers and archives: compression sniffed from magic bytes, digests on the fly.

Layers are hashed while they are unpacked, so a blob is read once: the compressed bytes give the
OCI blob digest, the uncompressed bytes the diff id that the image config lists.
"""

import bz2
import gzip
import hashlib
import io
import lzma
from typing import IO, Any, cast

from engine.images.errors import InvalidArchiveError

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ZSTD = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20


class HashingReader(io.RawIOBase):
    """Reads through `inner` and hashes every byte that passes."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.sha256 = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        """Read to the end, so the digest covers padding that a tar reader leaves unread."""
        while self.read(CHUNK):
            pass

    def digest(self) -> str:
        """`sha256:<hex>` of what was read so far."""
        return "sha256:" + self.sha256.hexdigest()


def sniff(stream: io.BufferedReader) -> str:
    """ "gzip", "bzip2", "xz", "zstd" or "" (plain), without consuming anything."""
    head = stream.peek(6)[:6]
    for name, magic in (("gzip", _GZIP), ("bzip2", _BZIP2), ("xz", _XZ), ("zstd", _ZSTD)):
        if head.startswith(magic):
            return name
    return ""


def buffered(raw: IO[bytes]) -> io.BufferedReader:
    """`raw` with `peek`, for sniffing."""
    if isinstance(raw, io.BufferedReader):
        return raw
    return io.BufferedReader(cast(Any, raw))


def decompressed(raw: IO[bytes], what: str) -> IO[bytes]:
    """`raw` decompressed by its magic bytes; plain data is passed through."""
    stream = buffered(raw)
    kind = sniff(stream)
    if kind == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
    if kind == "bzip2":
        return cast(IO[bytes], bz2.BZ2File(stream))
    if kind == "xz":
        return cast(IO[bytes], lzma.LZMAFile(stream))
    if kind == "zstd":
        raise InvalidArchiveError(f"{what}: zstd compression is not supported")
    return stream
