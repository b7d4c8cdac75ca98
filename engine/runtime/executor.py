"""The default Executor of `Runtime`: run the runtime binary, collect its output, reap it.

It waits for exactly the pid it spawned, so inside the shim it never races the shim's reaper
for a container's exit status.
"""

from __future__ import annotations

import os
import select
from collections.abc import Sequence

# Python ignores SIGPIPE and SIGXFSZ, the shim ignores SIGINT/SIGHUP/SIGTERM: ignored signals
# survive exec, so without this the container's processes would ignore them too.
_DEFAULT_SIGNALS = (1, 2, 13, 15, 25)  # SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGXFSZ


def exit_status(wait_status: int) -> int:
    """The shell's rule: the exit code, or 128+N for a death by signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    if os.WIFEXITED(wait_status):
        return os.WEXITSTATUS(wait_status)
    return 255


def spawn_and_wait(
    argv: Sequence[str], *, stdio: Sequence[int] | None = None, stdin: bytes = b""
) -> tuple[int, bytes, bytes]:
    """The default Executor: posix_spawn, collect stdout/stderr, waitpid on that pid only.

    With `stdio` (three fds) the child's 0/1/2 are those fds and nothing is captured: that is
    how a detached container inherits the caller's pipes.
    """
    pipes: list[int] = []
    actions: list[tuple[int, int, int]] = []
    if stdio is None:
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        fds = (r_in, w_out, w_err)
        pipes = [w_in, r_out, r_err]
        to_close = [r_in, w_out, w_err]
    else:
        fds = (stdio[0], stdio[1], stdio[2])
        to_close = []
    for target, fd in enumerate(fds):
        actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    try:
        pid = os.posix_spawn(
            argv[0], list(argv), os.environ, file_actions=actions, setsigdef=_DEFAULT_SIGNALS
        )
    except OSError:
        for fd in pipes + to_close:
            os.close(fd)
        raise
    for fd in to_close:
        os.close(fd)
    out, err = b"", b""
    if pipes:
        w_in, r_out, r_err = pipes
        try:
            if stdin:
                os.write(w_in, stdin)  # small (a resources document); fits the pipe buffer
        finally:
            os.close(w_in)
        out, err = _collect(r_out, r_err)
    _, status = os.waitpid(pid, 0)
    return exit_status(status), out, err


def _collect(r_out: int, r_err: int) -> tuple[bytes, bytes]:
    poller = select.poll()
    chunks: dict[int, list[bytes]] = {r_out: [], r_err: []}
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = 2
    while open_fds:
        for fd, _ in poller.poll():
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds -= 1
    return b"".join(chunks[r_out]), b"".join(chunks[r_err])
