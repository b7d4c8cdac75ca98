"""Files in and out of a container (`docker cp`).

While it runs, by `tar` and `stat` run inside it: the container's own tools read and write its
files in its own mount namespace and root (its volumes included), so a path or a symlink in it
can never reach the host's files. The image needs `tar` and `stat` (busybox has them). While it
is stopped, from the host's side on its root, mounted for the call (lifecycle/filesystem.py).
"""

import io
import os
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.containers.errors import ConflictError
from engine.containers.record import LIVE
from engine.errors import EngineError, NotFoundError
from engine.lifecycle import filesystem
from engine.lifecycle.execs import ExecRequest
from engine.lifecycle.service import Engine

S_IFMT, S_IFDIR, S_IFLNK = 0o170000, 0o040000, 0o120000
GO_DIR, GO_SYMLINK = 1 << 31, 1 << 27  # Go's os.FileMode bits, as Docker's stat header has them


class PathNotFoundError(NotFoundError):
    """The path does not exist in the container."""


@dataclass(frozen=True)
class PathStat:
    """Docker's `X-Docker-Container-Path-Stat`: name, size, Go file mode, mtime, link target."""

    name: str
    size: int
    mode: int
    mtime: int
    link_target: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & GO_DIR)


class _Collect:
    """ExecStreams that hands stdout to `sink` and keeps stderr for the error message."""

    def __init__(self, sink: Callable[[bytes], None], stdin_fd: int = -1) -> None:
        self.sink, self.stdin_fd, self.errors = sink, stdin_fd, bytearray()

    def input_fd(self) -> int:
        return self.stdin_fd

    def output(self, stream: int, data: bytes) -> None:
        if stream == 1:
            self.sink(data)
        else:
            self.errors += data[: 4096 - len(self.errors)]


def _running(engine: Engine, ref: str) -> str:
    """The container's id if it runs, "" if it does not (the host's side does the copy)."""
    record = engine.store.find(ref)
    return record.id if record.state.status in LIVE else ""


def _go_mode(mode: int) -> int:
    go_mode = mode & 0o777
    if mode & S_IFMT == S_IFDIR:
        go_mode |= GO_DIR
    if mode & S_IFMT == S_IFLNK:
        go_mode |= GO_SYMLINK
    return go_mode


class _SinkFile(io.RawIOBase):
    """A write-only file over `sink`, for tarfile's stream mode."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sink(bytes(data))
        return len(data)


def _run(engine: Engine, cid: str, args: tuple[str, ...], streams: _Collect, stdin: bool) -> int:
    return engine.exec(cid, ExecRequest(args=args, stdin=stdin), streams=streams)


def stat_path(engine: Engine, ref: str, path: str) -> PathStat:
    cid = _running(engine, ref)
    name = posixpath.basename(path.rstrip("/")) or "/"
    if not cid:
        st = filesystem.stat_host(engine, ref, path)
        link = ""
        if st.st_mode & S_IFMT == S_IFLNK:
            with filesystem.container_root(engine, ref) as (_record, merged):
                link = os.readlink(filesystem.host_path(merged, path))
        return PathStat(name, st.st_size, _go_mode(st.st_mode), int(st.st_mtime), link)
    out = bytearray()
    streams = _Collect(out.extend)
    code = _run(engine, cid, ("stat", "-c", "%s %f %Y", path), streams, False)
    if code != 0:
        raise PathNotFoundError(f"Could not find the file {path} in container {ref}")
    size, raw_mode, mtime = out.decode().split()
    mode = int(raw_mode, 16)
    link = ""
    if mode & S_IFMT == S_IFLNK:
        target = bytearray()
        _run(engine, cid, ("readlink", path), _Collect(target.extend), False)
        link = target.decode().strip()
    return PathStat(name, int(size), _go_mode(mode), int(mtime), link)


def read_archive(engine: Engine, ref: str, path: str, sink: Callable[[bytes], None]) -> None:
    """A tar of `path` (its last component as the tar's top entry), to `sink` as it comes."""
    cid = _running(engine, ref)
    if not cid:
        filesystem.read_host(engine, ref, path, _SinkFile(sink))  # type: ignore[arg-type]
        return
    parent = posixpath.dirname(path.rstrip("/")) or "/"
    base = posixpath.basename(path.rstrip("/")) or "."
    streams = _Collect(sink)
    if _run(engine, cid, ("tar", "-c", "-f", "-", "-C", parent, base), streams, False) != 0:
        raise EngineError(f"tar in container {ref}: {streams.errors.decode(errors='replace')}")


def write_archive(engine: Engine, ref: str, directory: str, tar: bytes) -> None:
    """Unpack `tar` into `directory`, which must exist there and be a directory."""
    cid = _running(engine, ref)
    if not cid:
        filesystem.write_host(engine, ref, directory, io.BytesIO(tar))
        return
    if not stat_path(engine, ref, directory).is_dir:
        raise ConflictError(f"extraction point is not a directory: {directory}")
    read_end, write_end = os.pipe2(os.O_CLOEXEC)

    def feed() -> None:
        try:
            view = memoryview(tar)
            while view:
                view = view[os.write(write_end, view) :]
        except BrokenPipeError:
            pass  # tar stopped reading: its exit status tells why
        finally:
            os.close(write_end)

    feeder = threading.Thread(target=feed, name="archive-feed")
    feeder.start()
    streams = _Collect(lambda _data: None, read_end)
    try:
        code = _run(engine, cid, ("tar", "-x", "-f", "-", "-C", directory), streams, True)
    finally:
        # Ours closed first: a tar that never ran (or stopped reading) leaves the feeder
        # blocked on a full pipe otherwise; now it gets EPIPE and ends.
        os.close(read_end)
        feeder.join()
    if code != 0:
        raise EngineError(f"tar in container {ref}: {streams.errors.decode(errors='replace')}")
