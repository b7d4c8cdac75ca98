"""The request a `pyengine` client hands to the fork server: what makes a process that command.

Encoded without imports (the client is on the clock): a 8-digit hex length, then NUL-separated
fields: a version tag, argv[0], the working directory, the umask (octal), the number of
arguments, the arguments, then the environment as KEY=VALUE. Strings travel as file-system
bytes (os.fsencode), so arguments that are not UTF-8 arrive unchanged.
"""

import os

VERSION = b"pyengine-handover-1"
HEADER = 8  # hex digits of the body's length
SOCKET_NAME = "cli.sock"
PID_NAME = "cli.pid"
# The server answers one line: "exit N", "signal N", STALE (its code is older than the code on
# disk) or REFUSED (not this client's server, or a bad request); after the last two the client
# runs the command itself. The client may send "sig N" lines meanwhile.
STALE = b"stale"
REFUSED = b"refused"


class Request:
    """One command: run `argv` as if started with this argv[0], cwd, umask and environment."""

    __slots__ = ("argv", "argv0", "cwd", "env", "umask")

    def __init__(
        self, argv0: str, cwd: str, umask: int, argv: list[str], env: dict[str, str]
    ) -> None:
        self.argv0, self.cwd, self.umask, self.argv, self.env = argv0, cwd, umask, argv, env


def encode(req: Request) -> bytes:
    if any("\0" in part for part in (req.argv0, req.cwd, *req.argv)):
        raise ValueError("an argument holds a NUL byte")
    fields = [
        VERSION,
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
    if len(fields) < 5 or fields[0] != VERSION:
        raise ValueError("not a pyengine hand-over request (or another version)")
    count = int(fields[4])
    if count < 0 or len(fields) < 5 + count:
        raise ValueError("request lists more arguments than it holds")
    argv = [os.fsdecode(a) for a in fields[5 : 5 + count]]
    env = {}
    for item in fields[5 + count :]:
        key, sep, value = os.fsdecode(item).partition("=")
        if not sep:
            raise ValueError(f"environment entry without '=': {key!r}")
        env[key] = value
    return Request(os.fsdecode(fields[1]), os.fsdecode(fields[2]), int(fields[3], 8), argv, env)
