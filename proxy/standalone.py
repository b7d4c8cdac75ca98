"""A pyproxy that serves its own ports: parse the flags, bind (or adopt fd 4), report ready on
fd 3, serve until SIGINT or SIGTERM. Also where every invocation the hub does not take ends up
(standalone mode, a terminal, -h, -v, a bad flag), and the hub's own start (`-hub`).
"""

import os
import resource
import signal
import socket
import stat
import sys
from collections.abc import Sequence
from typing import NoReturn

from proxy import __version__
from proxy.config import FLAGS, ProxyConfig, from_args
from proxy.errors import ConfigError, FlagError, ListenError
from proxy.flags import HelpRequested, print_usage
from proxy.listen import adopt_listener, open_listener
from proxy.readiness import ReadyPipe
from proxy.standin import listener_fd

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


def is_socket(fd: int) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def open_listeners(config: ProxyConfig) -> list[socket.socket]:
    """Bind every mapping, all or nothing. With -use-listen-fd the first is adopted from fd 4
    (dockerd's contract) and the others from where a stand-in keeps them
    (`standin.listener_fd`), when it passed them on."""
    listeners: list[socket.socket] = []
    try:
        for i, mapping in enumerate(config.mappings):
            if config.use_listen_fd and (i == 0 or is_socket(listener_fd(i))):
                listeners.append(adopt_listener(mapping, listener_fd(i)))
            else:
                listeners.append(open_listener(mapping))
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def say(message: str) -> None:
    """A line on stderr, which may be closed: dockerd gives /dev/null, others give nothing."""
    if sys.stderr is not None:
        sys.stderr.write(f"{message}\n")


def fail(pipe: ReadyPipe, message: str) -> NoReturn:
    pipe.fail(message)
    say(message)
    sys.exit(EXIT_STARTUP)


def run(pipe: ReadyPipe, args: Sequence[str]) -> NoReturn:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pyproxy"
    try:
        config = from_args(args, os.environ.get("PYPROXY_MODE", "auto"))
    except HelpRequested:
        print_usage(prog, FLAGS)
        sys.exit(EXIT_OK)
    except FlagError as e:
        say(f"{e}\nRun '{prog} -h' for usage.")
        sys.exit(EXIT_FLAGS)
    except ConfigError as e:
        fail(pipe, str(e))
    if config.show_version:
        sys.stdout.write(f"pyproxy (commit none) version {__version__}\n")
        sys.exit(EXIT_OK)
    raise_nofile_limit()
    if config.hub:
        from proxy.hub import run_hub  # noqa: PLC0415 - the hub's own start only

        run_hub(config.loop)
        os._exit(EXIT_OK)
    try:
        listeners = open_listeners(config)
    except ListenError as e:
        fail(pipe, str(e))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_now)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # Go ignores it; Python would die
    pipe.ready()

    from proxy.serve import serve  # noqa: PLC0415 - the data path, once ready

    serve(config, listeners)
    if sys.stderr is not None:
        sys.stderr.flush()
    os._exit(EXIT_OK)  # skip tearing down thousands of objects: the kernel closes the fds
