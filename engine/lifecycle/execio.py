"""An exec's output, relayed to our stdout and stderr through FIFOs the shim writes into.

The shim opens output paths itself. Handing it our own /proc/self/fd/1 would give it a second,
independent open of a regular file, whose appends our later writes overwrite; FIFOs of our own
keep the bytes in order, and EOF on them says the process and its children are done.
"""

import os
import select
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType


class ExecOutput:
    """Two FIFOs in a private directory; `copy_until_closed` pumps them to our stdio."""

    def __init__(self, parent: Path) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="exec-", dir=parent))
        self.stdout = str(self.dir / "out")
        self.stderr = str(self.dir / "err")
        os.mkfifo(self.stdout, 0o600)
        os.mkfifo(self.stderr, 0o600)
        # Non-blocking opens of the read ends succeed before any writer exists.
        self._fds = {
            os.open(self.stdout, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC): 1,
            os.open(self.stderr, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC): 2,
        }

    def __enter__(self) -> "ExecOutput":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = {}
        shutil.rmtree(self.dir, ignore_errors=True)

    def copy_until_closed(self) -> None:
        """Copy until every writer is gone (call once the process has started)."""
        sys.stdout.flush()
        sys.stderr.flush()
        open_fds = dict(self._fds)
        while open_fds:
            ready, _, _ = select.select(list(open_fds), [], [])
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    del open_fds[fd]
                    continue
                target = open_fds[fd]
                view = memoryview(data)
                while view:
                    view = view[os.write(target, view) :]
