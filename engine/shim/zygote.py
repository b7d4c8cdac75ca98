"""`pyshim zygote --run-root R`: a resident, already-imported shim that forks new shims.

Starting a shim by exec costs a Python start-up and the imports (most of `spawn`); forking
them from a process that already did both costs a fork. The forked shims also share the
zygote's pages (its heap is frozen out of the collector first, so it stays shared), which is
what brings the per-shim PSS down. The zygote is a convenience, not a dependency: shims are
independent daemons the moment they are forked (own session, re-parented away), a dead zygote
takes nothing down, and the client falls back to exec when no zygote answers.

Protocol on <run>/zygote.sock: one line {"argv": [shim flags]} -> one line
{"ok": true, "address": path} or {"ok": false, "error": {...}}; one request per connection.
"""

from __future__ import annotations

import contextlib
import ctypes  # noqa: F401 - imported once here, shared by every forked shim
import gc
import json
import os
import signal
import socket
import sys

from engine.defaults import default_run_root
from engine.runtime.errors import OCIRuntimeError
from engine.shim.daemon import launch, set_subreaper
from engine.shimapi.config import ShimConfig
from engine.shimapi.errors import InvalidArgumentError, ShimError
from engine.shimapi.fingerprint import code_fingerprint
from netns.flock import flocked


def socket_path(run_root: str) -> str:
    return os.path.join(run_root, "zygote.sock")


def pid_path(run_root: str) -> str:
    return os.path.join(run_root, "zygote.pid")


def start_zygote(argv: list[str]) -> int:
    """Bind, daemonize, print the socket path (the socket listens before this returns)."""
    if argv[:1] == ["--run-root"] and len(argv) == 2:
        run_root = os.path.abspath(argv[1])
    elif not argv:
        run_root = default_run_root()
    else:
        raise InvalidArgumentError("usage: pyshim zygote [--run-root DIR]")
    os.makedirs(run_root, exist_ok=True)
    path = socket_path(run_root)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bind and listen as one step for every starter of this run root: between another's bind
    # and its listen, its socket does not answer yet, and taking it for a dead one's left two
    # zygotes, one on an unlinked path that nothing reached or stopped. (The lock is let go
    # before the fork: the daemon must not hold it.)
    with flocked(os.path.join(run_root, "zygote.lock")):
        try:
            listener.bind(path)
        except OSError:
            # a zygote answers there, or a dead one left its socket
            if _answers(path):
                sys.stdout.write(path + "\n")
                listener.close()
                return 0
            os.unlink(path)
            listener.bind(path)
        listener.listen(64)
    sys.stdout.flush()
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        _serve(run_root, listener)
    listener.close()
    os.waitpid(first, 0)
    sys.stdout.write(path + "\n")
    return 0


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _reap(_sig: int, _frame: object) -> None:
    """Shims re-parent to the zygote (it is their subreaper) and it reaps them when they exit,
    so finished shims never linger as zombies under an init that does not reap."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _serve(run_root: str, listener: socket.socket) -> None:
    os.chdir("/")
    signal.signal(signal.SIGCHLD, _reap)
    set_subreaper()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    with open(pid_path(run_root), "w") as f:
        f.write(f"{os.getpid()}\n")
    listener.settimeout(None)
    mine = code_fingerprint()
    while True:
        gc.collect()
        gc.freeze()  # everything so far stays in shared pages in the shims forked next
        conn, _ = listener.accept()
        try:
            conn.settimeout(10.0)
            if not _handle(conn, listener, mine):
                _retire(run_root, listener)
        except OSError:
            pass
        finally:
            conn.close()


def _retire(run_root: str, listener: socket.socket) -> None:
    """Leave for a zygote with the current code; the shims already forked live on."""
    with contextlib.suppress(OSError):
        os.unlink(socket_path(run_root))
    with contextlib.suppress(OSError):
        os.unlink(pid_path(run_root))
    listener.close()
    os._exit(0)


def _handle(conn: socket.socket, listener: socket.socket, mine: str) -> bool:
    """Serve one request; False when the client runs newer code than this zygote."""
    with conn.makefile("rb") as reader:
        line = reader.readline()
    if not line.endswith(b"\n"):
        return True  # the client went away before its request was whole
    try:
        request = json.loads(line)
        if request.get("code", mine) != mine:
            conn.sendall(b'{"ok": false, "stale": true}\n')
            return False
        config = ShimConfig.from_argv([str(a) for a in request["argv"]])
        address = launch(config, close_in_daemon=(listener.fileno(), conn.fileno()))
        reply: dict[str, object] = {"ok": True, "address": address}
    except (ShimError, OCIRuntimeError) as exc:
        kind = exc.kind if isinstance(exc, ShimError) else "runtime"
        message = getattr(exc, "message", None) or str(exc)
        reply = {
            "ok": False,
            "error": {"kind": kind, "type": type(exc).__name__, "message": message},
        }
    except (ValueError, KeyError, TypeError) as exc:
        reply = {
            "ok": False,
            "error": {
                "kind": "invalid_argument",
                "type": "InvalidArgumentError",
                "message": f"bad zygote request: {exc}",
            },
        }
    conn.sendall((json.dumps(reply) + "\n").encode())
    return True
