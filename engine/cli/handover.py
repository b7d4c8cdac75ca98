"""The request a client (`pyengine`, `pybridge`) hands to the fork server: what makes a process
that command.

Encoded without imports (the client is on the clock): a 8-digit hex length, then NUL-separated
fields: a version tag, the program, argv[0], the working directory, the umask (octal), the
number of arguments, the arguments, then the environment as KEY=VALUE. Strings travel as
file-system bytes (os.fsencode), so arguments that are not UTF-8 arrive unchanged.
"""

import os

VERSION = b"pyplumb-handover-2"
# The entry points one warm process serves: the engine's CLI and the CNI plugin.
PROGRAMS = ("pyengine", "pybridge")
HEADER = 8  # hex digits of the body's length
SOCKET_NAME = "cli.sock"
PID_NAME = "cli.pid"
# The server answers one line: "exit N", "signal N", STALE (its code is older than the code on
# disk) or REFUSED (not this client's server, or a bad request); after the last two the client
# runs the command itself. The client may send "sig N" lines meanwhile.
STALE = b"stale"
REFUSED = b"refused"


class Request:
    """One command: run `program` with `argv` as if started with this argv[0], cwd, umask and
    environment."""

    __slots__ = ("argv", "argv0", "cwd", "env", "program", "umask")

    def __init__(
        self,
        program: str,
        argv0: str,
        *,
        cwd: str,
        umask: int,
        argv: list[str],
        env: dict[str, str],
    ) -> None:
        self.program, self.argv0, self.cwd, self.umask = program, argv0, cwd, umask
        self.argv, self.env = argv, env


def encode(req: Request) -> bytes:
    if any("\0" in part for part in (req.argv0, req.cwd, *req.argv)):
        raise ValueError("an argument holds a NUL byte")
    fields = [
        VERSION,
        req.program.encode(),
        os.fsencode(req.argv0),
        os.fsencode(req.cwd),
        b"%o" % req.umask,
        b"%d" % len(req.argv),
        *map(os.fsencode, req.argv),
        *(os.fsencode(f"{key}={value}") for key, value in req.env.items()),
    ]
    body = b"\0".join(fields)
    return b"%08x" % len(body) + body


def body_length(header: bytes) -> int:
    """The body's length from the first HEADER bytes; ValueError if they are not a header."""
    if len(header) != HEADER:
        raise ValueError("short request header")
    return int(header, 16)


def decode(body: bytes) -> Request:
    """The request in `body` (after the header); ValueError if it is not one."""
    fields = body.split(b"\0")
    if len(fields) < 6 or fields[0] != VERSION:
        raise ValueError("not a pyplumb hand-over request (or another version)")
    program = fields[1].decode("ascii", errors="replace")
    if program not in PROGRAMS:
        raise ValueError(f"no such program to run: {program!r}")
    count = int(fields[5])
    if count < 0 or len(fields) < 6 + count:
        raise ValueError("request lists more arguments than it holds")
    argv = [os.fsdecode(a) for a in fields[6 : 6 + count]]
    env = {}
    for item in fields[6 + count :]:
        key, sep, value = os.fsdecode(item).partition("=")
        if not sep:
            raise ValueError(f"environment entry without '=': {key!r}")
        env[key] = value
    cwd, umask = os.fsdecode(fields[3]), int(fields[4], 8)
    return Request(program, os.fsdecode(fields[2]), cwd=cwd, umask=umask, argv=argv, env=env)
