"""The exit record: written (and fsynced) by the shim before anyone hears of the exit.

A restarted engine, or the cleanup of a dead shim, reads it back; it is the only durable copy of
the status, since `runc state` keeps none.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended: the one form an exit takes, on the wire (`wait`, `delete`, the exit
    event), on disk (the exit record) and in the engine (`TaskStatus.exit`)."""

    exit_status: int
    exited_at: int  # ns since the epoch
    pid: int = 0
    oom_killed: bool = False
    # "shim": reaped by the shim; "dead-shim": invented after the shim died (255 or 137)
    source: str = "shim"

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExitStatus:
        """From `to_json`'s object or the shim's replies (which may leave out the defaults);
        ValueError, KeyError or TypeError when it is not one."""
        return cls(
            int(data["exit_status"]),
            int(data["exited_at"]),
            int(data.get("pid") or 0),
            bool(data.get("oom_killed", False)),
            str(data.get("source") or "shim"),
        )

    @property
    def exited_at_seconds(self) -> float:
        return self.exited_at / 1e9


def write_exit(path: str, record: ExitStatus) -> None:
    """Atomic and durable: write a temp file, fsync, rename over the record."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (json.dumps(record.to_json()) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_exit(path: str) -> ExitStatus | None:
    """The record, or None when there is none (or it is unreadable)."""
    try:
        with open(path, "rb") as f:
            return ExitStatus.from_json(json.loads(f.read()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
