"""`pybridge`: a CNI 1.0.0/1.1.0 plugin (ADD, DEL, CHECK, VERSION, GC, STATUS) over `Driver`.

Driven like every CNI plugin: CNI_* environment, network configuration on stdin, the result on
stdout, exit 0; a failure prints the CNI error object on stdout (as the reference skel does)
and exits 1. pyroute2 is imported only by the verbs that touch the kernel.

Every call is a new process, so imports are start-up time: the verbs and the driver are imported
only when the command needs them (VERSION needs none of it), see README.md "CNI start-up".
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from bridge.cni import conf
from bridge.cni.errors import INTERNAL, IO_FAILURE, CniError
from bridge.errors import BridgeError


def run(env: Mapping[str, str], stdin: bytes) -> tuple[int, dict[str, Any] | None]:
    """One invocation: (exit status, JSON object to print or None)."""
    version = "1.1.0"
    try:
        call = conf.parse_call(env, stdin)
        version = call.version
        if call.command == "VERSION":
            return 0, conf.version(call)
        from bridge.cni import commands  # noqa: PLC0415 - the driver: only for these verbs

        verbs = {
            "ADD": commands.add,
            "DEL": commands.delete,
            "CHECK": commands.check,
            "GC": commands.gc,
            "STATUS": commands.status,
        }
        return 0, verbs[call.command](call)
    except CniError as exc:
        return 1, exc.to_json(version)
    except BridgeError as exc:
        return 1, CniError(exc.cni_code, str(exc)).to_json(version)
    except OSError as exc:
        return 1, CniError(IO_FAILURE, f"{exc}").to_json(version)
    except Exception as exc:  # a bug: still answer in the protocol, with the type
        return 1, CniError(INTERNAL, f"{type(exc).__name__}: {exc}").to_json(version)


def main() -> int:
    """Entry point of the `pybridge` console script."""
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    code, out = run(os.environ, stdin)
    if out is not None:
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
