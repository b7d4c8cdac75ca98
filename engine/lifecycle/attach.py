"""A container's output as the shim writes it, for whoever is attached: `run` without -d in
the CLI, `POST /containers/{id}/attach` in the API server. Both poll `OutputTail` until the
container's exit is known, then drain it once more.

Output is read from the json-file log from where it stood when the caller attached, so nothing
written after that is lost; the file stays open, so `--rm` removing it at exit loses nothing.
"""

import os
from pathlib import Path
from typing import IO

from engine.containers.logs import LogEntry, parse_lines


def log_size(path: Path) -> int:
    """Where an attachment starts: the log's current end (0 before the first start)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class OutputTail:
    """New whole entries of one container's log, each time `poll` is called."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self._offset = offset
        self._file: IO[str] | None = None
        self._partial = ""

    def poll(self) -> list[LogEntry]:
        """The entries completed since the last call; a line still being written waits."""
        if self._file is None:
            try:
                self._file = open(self.path, encoding="utf-8", errors="replace")  # noqa: SIM115
            except FileNotFoundError:
                return []  # not started yet
            self._file.seek(self._offset)
        data = self._partial + self._file.read()
        *lines, self._partial = data.split("\n")
        return list(parse_lines(lines))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
