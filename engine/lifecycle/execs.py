"""`exec` across the seam: the request, and the streams an attached exec reads and writes.

The CLI gives its own stdin, stdout and stderr (`FdStreams`); the API server will give a
hijacked connection, multiplexing stdout and stderr into Docker's stream frames in its own
`ExecStreams`. The engine knows neither terminals nor HTTP.
"""

import os
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExecRequest:
    """`exec`: run `args` in a running container. env, cwd and user add to or override the
    container's own; `stdin` forwards the caller's (-i), `tty` runs it on a pseudo-terminal of
    `console_size` (rows, cols) whose output is one stream (-t), `detach` returns at once."""

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = ""
    user: str = ""
    tty: bool = False
    detach: bool = False
    stdin: bool = False
    console_size: tuple[int, int] | None = None


class ExecStreams(Protocol):
    """Where an attached exec's input comes from and its output goes."""

    def input_fd(self) -> int:
        """A readable descriptor whose bytes are the process's stdin, and whose EOF is its."""
        ...

    def output(self, stream: int, data: bytes) -> None:
        """Deliver `data` the process wrote on `stream` (1: stdout, 2: stderr), whole."""
        ...


@dataclass(frozen=True)
class FdStreams:
    """Three descriptors, this process's own stdio by default (the CLI)."""

    stdin: int = 0
    stdout: int = 1
    stderr: int = 2

    def input_fd(self) -> int:
        return self.stdin

    def output(self, stream: int, data: bytes) -> None:
        view = memoryview(data)
        target = self.stdout if stream == 1 else self.stderr
        while view:
            view = view[os.write(target, view) :]
