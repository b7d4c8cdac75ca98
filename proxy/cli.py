"""`pyproxy`: docker-proxy's process contract.

The order matters: fd 3 is inspected before any descriptor is opened, the listeners are bound
and `0\\n` is reported before asyncio and uvloop are imported (about 50 ms that dockerd would
otherwise wait for, once per published port and family); connections that arrive meanwhile
wait in the kernel's backlog.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # `signal` imports enum; see proxy.record
import os
import resource
import sys

from proxy import __version__, handoff
from proxy.config import FLAGS, ProxyConfig, from_args
from proxy.errors import ConfigError, FlagError, ListenError
from proxy.flags import HelpRequested, print_usage
from proxy.listen import adopt_listener, open_listener
from proxy.readiness import ReadyPipe

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence
    from typing import NoReturn

EXIT_OK, EXIT_STARTUP, EXIT_FLAGS = 0, 1, 2


def _exit_now(signum: int, frame: object) -> None:
    os._exit(EXIT_OK)  # docker-proxy exits 0 at once on SIGINT/SIGTERM


def raise_nofile_limit() -> None:
    """Use the hard open-file limit, as Go programs do since Go 1.19."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def open_listeners(config: ProxyConfig) -> list[socket.SocketType]:
    """Bind every mapping, all or nothing. With -use-listen-fd the first is adopted from fd 4
    (dockerd's contract) and the others from where a shared-mode stand-in keeps them
    (`handoff.listener_fd`), when it passed them on."""
    listeners: list[socket.SocketType] = []
    try:
        for i, mapping in enumerate(config.mappings):
            if config.use_listen_fd and (i == 0 or handoff.is_socket(handoff.listener_fd(i))):
                listeners.append(adopt_listener(mapping, handoff.listener_fd(i)))
            else:
                listeners.append(open_listener(mapping))
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def wants_hub(config: ProxyConfig, pipe: ReadyPipe) -> bool:
    """Shared mode: asked for, or implied by a readiness pipe (dockerd, our engine)."""
    return config.mode == "shared" or (config.mode == "auto" and pipe.fd is not None)


def run_hub(config: ProxyConfig) -> NoReturn:
    """`-hub`: bind the control socket, detach (the spawner waits for this), then serve."""
    control = handoff.bind_hub(config.loop)
    if control is None or os.fork():
        os._exit(EXIT_OK)  # another hub holds the address, or we are the spawner's child
    os.chdir("/")
    from proxy.hub import serve_hub  # noqa: PLC0415 - heavy imports after the socket listens

    serve_hub(control, config.loop)
    os._exit(EXIT_OK)


def _say(message: str) -> None:
    """A line on stderr, which may be closed: dockerd gives /dev/null, others give nothing."""
    if sys.stderr is not None:
        sys.stderr.write(f"{message}\n")


def _fail(pipe: ReadyPipe, message: str) -> NoReturn:
    pipe.fail(message)
    _say(message)
    sys.exit(EXIT_STARTUP)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    pipe = ReadyPipe.inherit()
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyproxy"
    args = sys.argv[1:] if argv is None else argv
    try:
        config = from_args(args, os.environ.get("PYPROXY_MODE", "auto"))
    except HelpRequested:
        print_usage(prog, FLAGS)
        sys.exit(EXIT_OK)
    except FlagError as e:
        _say(f"{e}\nRun '{prog} -h' for usage.")
        sys.exit(EXIT_FLAGS)
    except ConfigError as e:
        _fail(pipe, str(e))
    if config.show_version:
        sys.stdout.write(f"pyproxy (commit none) version {__version__}\n")
        sys.exit(EXIT_OK)

    raise_nofile_limit()
    if config.hub:
        run_hub(config)
    try:
        listeners = open_listeners(config)
    except ListenError as e:
        _fail(pipe, str(e))
    for sig in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(sig, _exit_now)
    _signal.signal(_signal.SIGUSR1, _signal.SIG_IGN)  # Go ignores it; Python would die
    if wants_hub(config, pipe):
        try:
            hub = handoff.register(config, listeners)
        except handoff.HandoffError as e:
            _say(f"shared mode unavailable, serving standalone: {e}")
        else:
            handoff.become_waiter(hub, listeners, pipe.hand_over(), list(args))
    pipe.ready()

    from proxy.serve import serve  # noqa: PLC0415 - deliberately after readiness (see above)

    serve(config, listeners)
    if sys.stderr is not None:
        sys.stderr.flush()
    os._exit(EXIT_OK)  # skip tearing down thousands of objects: the kernel closes the fds
