"""The exit command: what a daemonless engine runs when a container's init has exited."""

import os

# Bookkeeping, not the container's work: an attached `pyengine run` usually handles the exit
# itself at that moment, and this command only finds it done. Niced, its start-up (a Python
# interpreter) does not compete with the engine command that waits on the same exit.
NICENESS = 10


def run_exit_command(argv: tuple[str, ...]) -> None:
    """Start the exit command in a session of its own, stdio on /dev/null; never raises (the
    exit is on disk already, and a failed command must not take the shim down)."""
    if not argv:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    try:
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)],
            setsid=True,
        )
        os.setpriority(os.PRIO_PROCESS, pid, NICENESS)
    except OSError:
        pass
    finally:
        os.close(null)
