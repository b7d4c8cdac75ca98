"""Whether the code a warm process has imported still is the code on disk.

A warm process forks workers from the modules it imported at start; after an upgrade or an
edit its memory still holds the old ones, and a worker must never run them. Stat-ing every
module per request (shimapi.fingerprint) costs a millisecond or two on every command; inotify
tells the same at the cost of one read(2) that finds nothing. Where no inotify instance is to
be had (the per-user limit, 128 by default), the fingerprint check is the fallback.
"""

import contextlib
import os
import struct

from engine.shimapi.fingerprint import tree_fingerprint
from netns import libc

# <linux/inotify.h>
IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_Q_OVERFLOW, IN_ISDIR = 0x400, 0x800, 0x4000, 0x40000000
WATCHED = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then the name, NUL-padded
SKIPPED = "__pycache__"


class CodeWatch:
    """The modules under `folders`, as they were when this was made."""

    def __init__(self, folders: list[str]) -> None:
        self.folders = folders
        self.stale = False
        self.fd: int | None = None
        self.fingerprint = tree_fingerprint(folders)
        try:
            self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            for top in folders:
                for folder, dirs, _names in os.walk(top):
                    dirs[:] = [d for d in dirs if d != SKIPPED]
                    libc.inotify_add_watch(self.fd, folder, WATCHED)
        except OSError:
            self.close()  # out of instances or watches: stat every module instead

    def changed(self) -> bool:
        """Whether any module changed since (once stale, always stale)."""
        if self.stale:
            return True
        if self.fd is None:
            self.stale = tree_fingerprint(self.folders) != self.fingerprint
            return self.stale
        while not self.stale:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            self.stale = any(_matters(mask, name) for mask, name in _events(data))
        return self.stale

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def _events(data: bytes) -> list[tuple[int, str]]:
    events, at = [], 0
    while at + _EVENT.size <= len(data):
        _wd, mask, _cookie, length = _EVENT.unpack_from(data, at)
        name = data[at + _EVENT.size : at + _EVENT.size + length].rstrip(b"\0")
        events.append((mask, os.fsdecode(name)))
        at += _EVENT.size + length
    return events


def _matters(mask: int, name: str) -> bool:
    """A module, a package folder or a watched folder itself; not bytecode caches."""
    if mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF):
        return True  # events were lost, or a watched folder went
    if mask & IN_ISDIR:
        return name != SKIPPED
    return name.endswith(".py")
