"""`pyproxy`: docker-proxy's process contract.

fd 3 is inspected before any descriptor is opened. In shared mode (a parent waiting on fd 3,
as dockerd and our engine are, or PYPROXY_MODE=shared) the invocation imports nothing but
`os` and hands its ports to the hub, a warm process that has imported the proxy once
(proxy.invoke); the stand-in shell it becomes reports `0\\n`. Otherwise, and whenever the hub
declines, the proxy runs in this process (proxy.standalone).
"""

import os
import sys

from proxy import invoke
from proxy.readiness import ReadyPipe

EXIT_STARTUP = 1


def main(argv: list[str] | None = None) -> None:
    pipe = ReadyPipe.inherit()
    args = sys.argv[1:] if argv is None else argv
    hub = "-hub" in args or "--hub" in args
    if not hub and argv is None and invoke.wants_hub(args, pipe.fd is not None):
        message = invoke.hand_over(pipe.fd)  # returns only when the hub did not take us
        if message is not None:
            pipe.fail(message)
            if sys.stderr is not None:
                sys.stderr.write(f"{message}\n")
            os._exit(EXIT_STARTUP)
    from proxy.standalone import run  # noqa: PLC0415 - only when no hub serves us

    run(pipe, args)
