"""`pyshim start|delete|zygote|version`: the shim's command line.

start   starts a shim daemon for one container (engine/shim/daemon.py) and prints its socket path
delete  cleanup for a dead shim (as `containerd-shim-runc-v2 delete`): see shimapi/discovery.py
zygote  starts the run root's resident shim forker (engine/shim/zygote.py)
Errors go to stdout as one JSON object for the client to re-raise, and to stderr for people.
"""

from __future__ import annotations

import json
import sys

from engine.runtime.errors import OCIRuntimeError
from engine.shim.daemon import launch
from engine.shim.zygote import start_zygote
from engine.shimapi.config import VERSION, ShimConfig
from engine.shimapi.discovery import cleanup_dead
from engine.shimapi.errors import ShimError

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        sys.stderr.write(
            "usage: pyshim start|delete --id ID --bundle DIR [--run-root R] "
            "[--root P] [--runtime PATH] [--runtime-arg=A]... | version\n"
        )
        return EXIT_USAGE
    if args[0] in ("version", "-v", "--version"):
        sys.stdout.write(f"pyshim {VERSION}\n")
        return 0
    try:
        if args[0] == "zygote":
            return start_zygote(args[1:])
        config = ShimConfig.from_argv(args[1:])
        if args[0] == "start":
            sys.stdout.write(launch(config) + "\n")
            return 0
        if args[0] == "delete":
            record = cleanup_dead(config.layout)
            sys.stdout.write(json.dumps(record.to_json()) + "\n")
            return 0
    except (ShimError, OCIRuntimeError) as exc:
        # stdout carries the result: the socket path, or this error for the client to re-raise
        kind = exc.kind if isinstance(exc, ShimError) else "runtime"
        message = getattr(exc, "message", None) or str(exc)
        error = {"kind": kind, "type": type(exc).__name__, "message": message}
        sys.stdout.write(json.dumps({"error": error}) + "\n")
        sys.stderr.write(f"pyshim: {exc}\n")
        return 1
    sys.stderr.write(f"pyshim: unknown command {args[0]!r}\n")
    return EXIT_USAGE
