"""Leases on disk in host-local's layout: one file per address in the pool's directory.

    <dir>/<address>            "<container id>\\r\\n<ifname>" (what host-local writes)
    <dir>/last_reserved_ip.0   round-robin position
    <dir>/lock                 flock(2) held around every allocate/release

Crash safety: a lease is written to a temporary file first and then hard-linked to its address
name. link(2) is atomic and fails if the name exists, so a lease file is always complete, two
processes can never both take an address, and a kill -9 leaves at worst a `.tmp-*` file that
`sweep_temporaries` removes. No fsync: leases must survive the death of a process, not of the
machine (after a reboot every namespace is gone and GC frees every lease anyway).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bridge.files import join, read_text, write_text
from bridge.ipam import Owner
from netns.flock import flocked

TMP_PREFIX = ".tmp-"
LAST = "last_reserved_ip.0"
NON_LEASES = ("lock", LAST)


class DiskStore:
    """A LeaseStore in a directory (created on first use); paths are strings (state.py)."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = os.fspath(directory)
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"<DiskStore {self.dir}>"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with flocked(join(self.dir, "lock")):
            yield

    def used(self) -> set[str]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return set()
        return {n for n in names if n not in NON_LEASES and not n.startswith(TMP_PREFIX)}

    def owner(self, ip: str) -> Owner | None:
        try:
            text = read_text(join(self.dir, ip))
        except (FileNotFoundError, NotADirectoryError):
            return None
        parts = text.replace("\r\n", "\n").split("\n")
        if len(parts) < 2 or not parts[0]:
            return None
        return Owner(parts[0].strip(), parts[1].strip())

    def reserve(self, ip: str, owner: Owner) -> bool:
        os.makedirs(self.dir, exist_ok=True)
        tmp = join(self.dir, f"{TMP_PREFIX}{os.getpid()}-{ip}")
        write_text(tmp, f"{owner.container_id}\r\n{owner.ifname}")
        try:
            os.link(tmp, join(self.dir, ip))
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def release(self, ip: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(join(self.dir, ip))

    def last_reserved(self) -> str | None:
        try:
            return read_text(join(self.dir, LAST)).strip() or None
        except FileNotFoundError:
            return None

    def set_last_reserved(self, ip: str) -> None:
        tmp = join(self.dir, f"{TMP_PREFIX}{os.getpid()}-last")
        write_text(tmp, ip)
        os.replace(tmp, join(self.dir, LAST))

    def sweep_temporaries(self) -> int:
        """Remove files a killed writer left behind (call with the lock held)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return 0
        gone = 0
        for name in names:
            if name.startswith(TMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(join(self.dir, name))
                    gone += 1
        return gone

    def remove_if_empty(self) -> None:
        """Delete the directory when no lease is left (network removal)."""
        if self.used():
            return
        for name in (*NON_LEASES,):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(join(self.dir, name))
        self.sweep_temporaries()
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)
