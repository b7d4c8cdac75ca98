"""The hand-over between a client (`pyengine`, `pybridge`) and the run root's warm process.

The client is on the clock (a CNI runtime execs `pybridge` for every call), so it imports
`os` and nothing that `socket` or `signal` would bring in. It hands over a process, not a
message: one line written to the server's FIFO (<run>/cli.fifo, 0600 in the 0700 run root)
names the client's pid, its program, how many words of its command line are its argv, and
the write end of a pipe the client made for the answers. The server reads the rest where
the kernel keeps it (`caller.Caller`): argv from /proc/PID/cmdline, the environment from
/proc/PID/environ, the working directory and umask, and stdin, stdout and stderr themselves
with pidfd_getfd(2), the same open files that SCM_RIGHTS would have passed.

A line is shorter than PIPE_BUF, so lines of clients writing at once never interleave.
"""

VERSION = b"pyplumb-handover-3"
# The entry points the warm process serves: the engine's CLI and the CNI plugin.
PROGRAMS = ("pyengine", "pybridge")
FIFO_NAME = "cli.fifo"
PID_NAME = "cli.pid"
LOCK_NAME = "cli.lock"  # held by the one server of a run root while it serves
# The server answers on the client's pipe, a line each: "pid N" (worker N runs the command,
# and the client may close its own write end), then "exit N" or "signal N". Or, instead of
# "pid N": STALE (its code is older than the code on disk) or REFUSED (not this client's
# server); after those two the client runs the command itself.
WORKER = b"pid"
STALE = b"stale"
REFUSED = b"refused"
MAX_LINE = 512  # well under PIPE_BUF (4096): one atomic write


def encode(program: str, pid: int, reply_fd: int, argc: int) -> bytes:
    """The request line: `argc` is len(sys.argv), the tail of the command line that is the
    command's (the interpreter and its flags come before it)."""
    return b"%s %s %d %d %d\n" % (VERSION, program.encode(), pid, reply_fd, argc)


def decode(line: bytes) -> tuple[str, int, int, int]:
    """(program, pid, reply_fd, argc) from a request line; ValueError if it is not one."""
    fields = line.split()
    if len(fields) != 5 or fields[0] != VERSION:
        raise ValueError("not a pyplumb hand-over request (or another version)")
    program = fields[1].decode("ascii", errors="replace")
    if program not in PROGRAMS:
        raise ValueError(f"no such program to run: {program!r}")
    pid, reply_fd, argc = (int(field) for field in fields[2:])
    if pid <= 0 or reply_fd < 0 or argc < 1:
        raise ValueError("a request with a bad pid, descriptor or argument count")
    return program, pid, reply_fd, argc
