"""Shared mode, the hub's side: one process serving the ports that invocations hand to it.

Each invocation keeps one unix connection to the hub (see proxy.handoff). Each `register`
message brings one listener (SCM_RIGHTS) and its mapping as pyproxy flags (an invocation with
several -map flags sends one per mapping); the hub answers `ok` once it serves the port.
`stop` closes the ports and their connections before the answer, so dockerd can bind them
again as soon as the stand-in exits. The stand-in's death closes them as well: the hub holds
a pidfd for the process at the other end (SO_PEERCRED) and watches it, because the
connection alone may outlive a stand-in killed with SIGKILL (its reader child holds a copy,
see proxy.handoff); EOF on the connection does too. The hub leaves after `LINGER` seconds
without ports.
"""

import os
import socket
import struct
from collections.abc import Callable

from proxy import log
from proxy.base import Clock, Proxy, Timer
from proxy.config import from_args
from proxy.errors import ProxyError
from proxy.loops import run_until_stopped
from proxy.pumps import PUMPS, PumpFactory
from proxy.reactor import IN, Reactor
from proxy.serve import new_proxy

LINGER = 10.0
MAX_FDS = 4
_UCRED = struct.Struct("3i")


class Client:
    """One invocation's connection and the ports it handed over (one per mapping)."""

    __slots__ = ("buffer", "conn", "pidfd", "proxies")

    def __init__(self, conn: socket.socket, pidfd: int) -> None:
        self.conn = conn
        self.pidfd = pidfd  # readable once the invocation's process has exited
        self.buffer = b""
        self.proxies: list[Proxy] = []


class Hub:
    """Accepts invocations on the control socket and serves their ports in one reactor."""

    def __init__(
        self,
        control: socket.socket,
        clock: Clock,
        reactor: Reactor,
        on_idle: Callable[[], None],
        linger: float = LINGER,
    ) -> None:
        self._control = control
        self._clock = clock
        self._reactor = reactor
        self._on_idle = on_idle
        self._linger = linger
        self._pumps: dict[str, PumpFactory] = {}
        self.clients: dict[int, Client] = {}
        self._idle_timer: Timer | None = None
        self._warn = log.RateLimited()

    def start(self) -> None:
        self._reactor.watch(self._control.fileno(), IN, self._on_accept)
        self._arm_idle_timer()

    def close(self) -> None:
        for client in list(self.clients.values()):
            self.release(client)
        self._reactor.forget(self._control.fileno())
        self._control.close()

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self._clock.call_later(self._linger, self._exit_if_idle)

    def _exit_if_idle(self) -> None:
        if not self.clients:
            self._on_idle()

    def _on_accept(self, events: int) -> None:
        while True:
            try:
                conn, _ = self._control.accept()
            except BlockingIOError:
                return
            except OSError as e:
                self._warn.warn("accept", f"hub: accept: {e}")
                return
            pid, uid, _gid = _UCRED.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
            )
            if uid != os.getuid():
                conn.close()  # another user may not make this process proxy for them
                continue
            try:
                pidfd = os.pidfd_open(pid)
            except OSError as e:  # gone already (ESRCH), or out of descriptors
                self._warn.warn("pidfd", f"hub: pidfd_open({pid}): {e.strerror}")
                conn.close()  # the invocation reads EOF and serves standalone
                continue
            conn.setblocking(False)
            client = Client(conn, pidfd)
            self.clients[conn.fileno()] = client
            self._reactor.watch(conn.fileno(), IN, client_handler(self, client))
            self._reactor.watch(pidfd, IN, client_exit_handler(self, client))

    def on_message(self, client: Client) -> None:
        try:
            data, ancdata, _flags, _ = client.conn.recvmsg(4096, socket.CMSG_SPACE(MAX_FDS * 4))
        except BlockingIOError:
            return
        except OSError:
            data, ancdata = b"", []
        fds = _received_fds(ancdata)
        if not data:
            _close_fds(fds)
            self.release(client)  # the stand-in is gone: so is its port
            return
        client.buffer += data
        while b"\n" in client.buffer:
            line, _, client.buffer = client.buffer.partition(b"\n")
            reply = self._handle(client, line.decode(errors="replace"), fds)
            fds = []
            try:
                client.conn.send(reply.encode())
            except OSError:
                self.release(client)
                return
        _close_fds(fds)

    def _handle(self, client: Client, line: str, fds: list[int]) -> str:
        verb, _, rest = line.partition(" ")
        if verb == "stop":
            self._stop_serving(client)
            return "ok\n"
        if verb != "register" or len(fds) != 1:
            _close_fds(fds)
            return f"error unexpected message {verb!r} with {len(fds)} descriptors\n"
        try:
            config = from_args(rest.split(), default_mode="standalone")
            listener = socket.socket(fileno=fds[0])
            listener.setblocking(False)
            pumps = self._pumps.get(config.relay) or self._pumps.setdefault(
                config.relay, PUMPS[config.relay]()
            )
            proxy = new_proxy(
                config.mappings[0], listener, config, self._clock, self._reactor, pumps
            )
        except (ProxyError, OSError, IndexError) as e:
            return f"error {e}\n"
        proxy.start()
        client.proxies.append(proxy)
        return "ok\n"

    def _stop_serving(self, client: Client) -> None:
        while client.proxies:
            client.proxies.pop().close()

    def release(self, client: Client) -> None:
        """Stop serving the client's ports and drop it; absence-tolerant."""
        if self.clients.pop(client.conn.fileno(), None) is None:
            return
        self._stop_serving(client)
        self._reactor.forget(client.conn.fileno())
        client.conn.close()
        self._reactor.forget(client.pidfd, closing_sole_copy=True)
        os.close(client.pidfd)
        if not self.clients:
            self._arm_idle_timer()


def client_handler(hub: Hub, client: Client) -> Callable[[int], None]:
    return lambda events: hub.on_message(client)


def client_exit_handler(hub: Hub, client: Client) -> Callable[[int], None]:
    return lambda events: hub.release(client)


def _received_fds(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(struct.unpack(f"{usable // 4}i", data[:usable]))
    return fds


def _close_fds(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def serve_hub(raw_control: socket.SocketType, loop_name: str) -> None:
    """Run the hub on its bound control socket until it has been idle for LINGER seconds."""
    log.setup()
    control = socket.socket(fileno=raw_control.detach())
    control.setblocking(False)

    def start(clock: Clock, reactor: Reactor, stop: Callable[[], None]) -> Callable[[], None]:
        hub = Hub(control, clock, reactor, stop)
        hub.start()
        return hub.close

    run_until_stopped(loop_name, start)
