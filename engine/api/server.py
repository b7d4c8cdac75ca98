"""`pyengine system service`: the Docker Engine API on a unix socket, on uvloop.

The socket is 0660, owned by root and the `pyengine` group when there is one, in a directory no
one else may enter (it controls containers: root-only or group-only). The server holds no
state of its own: every request goes through the engine seam to the same records the CLI uses,
so killing the server (even with SIGKILL) leaves every container, log and port as it was.
With `--time N` it leaves after N seconds without a connection (0: never), as Podman's does.
"""

import asyncio
import contextlib
import grp
import logging
import os
import resource
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import uvloop

from engine.api import http
from engine.api.archive import Archive
from engine.api.backend import Backend
from engine.api.containers import Containers
from engine.api.execs import Execs
from engine.api.images import Images
from engine.api.networks import Networks
from engine.api.router import Router
from engine.api.stats import Stats
from engine.api.streams import Streams
from engine.api.system import System
from engine.api.volumes import Volumes
from engine.config import EngineConfig
from engine.errors import InvalidParameterError

GROUP = "pyengine"
log = logging.getLogger("pyengine.api")


class ServiceError(InvalidParameterError):
    """The service cannot listen where it was asked to."""


@dataclass(frozen=True)
class ServiceOptions:
    """What `pyengine system service` was asked: where to listen and how long to stay idle."""

    path: Path
    idle_timeout: float = 5.0  # seconds; 0 never leaves


def socket_path(uri: str, run_root: Path) -> Path:
    """`unix:///path` or a bare path; the default is `<run root>/docker.sock`."""
    if not uri:
        return run_root / "docker.sock"
    if uri.startswith("unix://"):
        return Path(uri.removeprefix("unix://"))
    if "://" in uri:
        raise ServiceError(f"unsupported URI {uri!r}: only unix:// is served (no TCP without TLS)")
    return Path(uri)


def build_router(backend: Backend, config: EngineConfig) -> Router:
    router = Router()
    System(backend, config).routes(router)
    Containers(backend).routes(router)
    Streams(backend).routes(router)
    Execs(backend).routes(router)
    Images(backend).routes(router)
    Networks(backend).routes(router)
    Volumes(backend).routes(router)
    Stats(backend).routes(router)
    Archive(backend).routes(router)
    return router


def _listen(path: Path) -> int:
    """The listening socket's descriptor, bound with the modes the guide asks for."""
    import socket  # noqa: PLC0415 - only the server needs it

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    group = _group()
    if path.exists():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ServiceError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # a stale socket: its server is gone
        else:
            raise ServiceError(f"{path} is in use by a running service")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never a moment with the socket open to all
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    if group is not None:
        os.chown(path, 0, group)
        os.chmod(path, 0o660)
    sock.listen(1024)
    sock.setblocking(False)
    return sock.detach()


def _group() -> int | None:
    try:
        return grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return None


async def _serve(options: ServiceOptions, backend: Backend, router: Router, fd: int) -> None:
    import socket  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    active = 0
    last_seen = loop.time()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active, last_seen
        active += 1
        try:
            await http.serve_connection(reader, writer, router)
        except Exception:  # one connection's failure is logged, never the server's end
            log.exception("connection failed")
        finally:
            active -= 1
            last_seen = loop.time()

    server = await asyncio.start_unix_server(
        on_connection, sock=socket.socket(fileno=fd), limit=http.READ_SIZE
    )
    async with server:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
            idle = options.idle_timeout
            if idle and not active and loop.time() - last_seen >= idle:
                break


def serve(options: ServiceOptions, config: EngineConfig, backend: Backend) -> NoReturn:
    """Listen, serve until a signal or the idle timeout, remove the socket and exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # The CLI dies quietly on a closed pipe (`pyengine ps | head`); a server must not: a
    # client or a shim that went away is that request's error only.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # Each client holds a descriptor, each attachment a log file too: as many as allowed.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fd = _listen(options.path)
    inode = os.stat(options.path).st_ino
    router = build_router(backend, config)
    try:
        uvloop.run(_serve(options, backend, router, fd))
    finally:
        backend.close()
        with contextlib.suppress(OSError):
            if os.stat(options.path).st_ino == inode:
                os.unlink(options.path)
    # Worker threads may be blocked for hours in a client's `wait` or attachment; the
    # interpreter would join them at exit. The server keeps no state, so it leaves now: those
    # containers carry on, and their clients see the connection close.
    logging.shutdown()
    os._exit(0)
