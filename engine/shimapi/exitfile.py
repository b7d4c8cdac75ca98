"""The exit record: written (and fsynced) by the shim before anyone hears of the exit.

A restarted engine, or the cleanup of a dead shim, reads it back; it is the only durable copy of
the status, since `runc state` keeps none.
"""

from __future__ import annotations

import json
import os


class ExitRecord:
    """How a container's init ended."""

    __slots__ = ("exit_status", "exited_at", "oom_killed", "pid", "source")

    def __init__(
        self,
        exit_status: int,
        exited_at: int,
        pid: int = 0,
        oom_killed: bool = False,
        source: str = "shim",
    ) -> None:
        self.exit_status = exit_status
        self.exited_at = exited_at  # ns since the epoch
        self.pid = pid
        self.oom_killed = oom_killed
        # "shim": reaped by the shim; "dead-shim": invented after the shim died (255 or 137)
        self.source = source

    def __repr__(self) -> str:
        return f"<ExitRecord {self.exit_status} pid={self.pid} oom={self.oom_killed} {self.source}>"

    def to_json(self) -> dict[str, object]:
        return {
            "exit_status": self.exit_status,
            "exited_at": self.exited_at,
            "pid": self.pid,
            "oom_killed": self.oom_killed,
            "source": self.source,
        }


def write_exit(path: str, record: ExitRecord) -> None:
    """Atomic and durable: write a temp file, fsync, rename over the record."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (json.dumps(record.to_json()) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_exit(path: str) -> ExitRecord | None:
    """The record, or None when there is none (or it is unreadable)."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        return ExitRecord(
            int(data["exit_status"]),
            int(data["exited_at"]),
            int(data.get("pid", 0)),
            bool(data.get("oom_killed", False)),
            str(data.get("source", "shim")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
