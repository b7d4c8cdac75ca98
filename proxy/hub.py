"""Shared mode, the hub's side: one warm process serving the ports that invocations hand to it.

An invocation (proxy.invoke) writes one line to the hub's FIFO: its pid, the length of its
command line, and two pipes. The hub reads the invocation's flags from /proc/PID/cmdline and
takes its listening sockets (dockerd's -use-listen-fd) and the pipes with pidfd_getfd(2), or
binds the ports itself; then it answers on the answer pipe. `stop` on the command pipe closes
the ports before the answer, so dockerd can bind them again as soon as the stand-in exits.
The stand-in's death closes them as well: the hub holds a pidfd for it and watches it. The hub
leaves after `LINGER` seconds without ports, removing its FIFO.
"""

import contextlib
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy import invoke, log
from proxy.base import Clock, Proxy, Timer
from proxy.config import Mapping, ProxyConfig, from_args
from proxy.errors import ProxyError
from proxy.flags import HelpRequested
from proxy.listen import adopt_listener, open_listener
from proxy.loops import run_until_stopped
from proxy.pidfd import pidfd_getfd
from proxy.pumps import PUMPS, PumpFactory
from proxy.reactor import IN, Reactor
from proxy.serve import new_proxy
from proxy.standin import listener_fd

LINGER = 10.0


@dataclass
class Client:
    """One stand-in: its pidfd, the hub's ends of its two pipes, and the ports it handed over."""

    pidfd: int  # readable once the stand-in has exited
    answer: int  # we write: `ok`, then the answer to `stop`
    command: int  # we read: `stop`; EOF once the stand-in and its reader are gone
    proxies: list[Proxy] = field(default_factory=list)


class RefusedError(ProxyError):
    """The invocation should serve itself (`reply`) instead of being served here."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply.decode(errors="replace"))
        self.reply = reply


class Hub:
    """Takes invocations from the FIFO and serves their ports in one reactor."""

    def __init__(  # noqa: PLR0917 - the hub's collaborators, each given explicitly
        self,
        fifo: int,
        loop_name: str,
        clock: Clock,
        reactor: Reactor,
        on_idle: Callable[[], None],
        linger: float = LINGER,
    ) -> None:
        self._fifo, self._loop_name = fifo, loop_name
        self._clock, self._reactor, self._on_idle, self._linger = clock, reactor, on_idle, linger
        self._pumps: dict[str, PumpFactory] = {}
        self.clients: dict[int, Client] = {}  # by pidfd
        self._pending = b""
        self._idle_timer: Timer | None = None
        self._warn = log.RateLimited()

    def start(self) -> None:
        self._reactor.watch(self._fifo, IN, self._on_requests)
        self._arm_idle_timer()

    def close(self) -> None:
        for client in list(self.clients.values()):
            self.release(client)
        self._reactor.forget(self._fifo)

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self._clock.call_later(self._linger, self._exit_if_idle)

    def _exit_if_idle(self) -> None:
        if not self.clients:
            self._on_idle()

    def _on_requests(self, events: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self._pending += os.read(self._fifo, 1 << 16)
        *lines, rest = self._pending.split(b"\n")
        self._pending = rest[-invoke.MAX_LINE :]  # never a line this long: garbage
        for line in lines:
            self.take(line)

    def take(self, line: bytes) -> None:
        """Serve one invocation, or answer why not; nothing of it stays when it is not served."""
        try:
            pid, argc, answer_at, command_at, has_pipe = invoke.decode(line)
            pidfd = os.pidfd_open(pid)
        except (ValueError, OSError):
            return  # not a request, or its invocation is gone: nobody to answer
        answer = command = -1
        client: Client | None = None
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
                return  # another user's: its descriptors are none of our business
            answer = pidfd_getfd(pidfd, answer_at)
            command = pidfd_getfd(pidfd, command_at)
            try:
                config = self._config(pid, argc, has_pipe)
                client = Client(pidfd, answer, command)
                reply = self._serve(client, config)
            except RefusedError as e:
                client, reply = None, e.reply
            except ProxyError as e:  # ListenError: the port cannot be served, here or there
                client, reply = None, b"error " + str(e).encode()
            _say(answer, reply)
        except OSError as e:
            self._warn.warn("take", f"hub: invocation {pid}: {e}")
            if client is not None:
                self.release(client)
                client = None
        finally:
            if client is None:
                for fd in (pidfd, answer, command):
                    if fd >= 0:
                        os.close(fd)

    def _config(self, pid: int, argc: int, has_pipe: bool) -> ProxyConfig:
        """The invocation's flags, when they mean shared mode on this hub's loop."""
        if not _same_netns(pid):
            raise RefusedError(b"local")  # we would proxy from another network namespace
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = [os.fsdecode(w) for w in f.read().split(b"\0")[:-1]]
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = dict(os.fsdecode(e).partition("=")[::2] for e in f.read().split(b"\0")[:-1])
        if len(words) < argc:
            raise RefusedError(b"local")
        try:
            config = from_args(words[len(words) - argc + 1 :], environ.get("PYPROXY_MODE", "auto"))
        except (ProxyError, HelpRequested):
            raise RefusedError(b"local") from None  # in-process, its error is reported exactly
        mode = config.mode
        if mode == "auto":
            mode = "shared" if has_pipe else "standalone"
        if config.show_version or config.hub or mode != "shared":
            raise RefusedError(b"local")
        if config.loop != self._loop_name:
            raise RefusedError(b"loop " + config.loop.encode())
        return config

    def _serve(self, client: Client, config: ProxyConfig) -> bytes:
        """Serve every mapping of `config` for `client`, or none; the answer."""
        listeners: list[socket.socket] = []
        try:
            for i, mapping in enumerate(config.mappings):
                if config.use_listen_fd:
                    listeners.append(self._adopt(client.pidfd, mapping, listener_fd(i)))
                else:
                    listeners.append(open_listener(mapping))
            pumps = self._pumps.get(config.relay) or self._pumps.setdefault(
                config.relay, PUMPS[config.relay]()
            )
            for mapping, listener in zip(config.mappings, listeners, strict=True):
                client.proxies.append(
                    new_proxy(mapping, listener, config, self._clock, self._reactor, pumps)
                )
        except BaseException:
            for sock in listeners[len(client.proxies) :]:
                sock.close()
            for proxy in client.proxies:
                proxy.close()
            raise
        for proxy in client.proxies:
            proxy.start()
        self.clients[client.pidfd] = client
        self._reactor.watch(client.command, IN, lambda events: self.on_command(client))
        self._reactor.watch(client.pidfd, IN, lambda events: self.release(client))
        if config.use_listen_fd:
            return b"ok %d" % len(listeners)  # the stand-in keeps its own
        # The stand-in takes a copy of each port we bound, as a docker-proxy holds its port.
        return b"ok 0 " + b" ".join(b"%d" % sock.fileno() for sock in listeners)

    def _adopt(self, pidfd: int, mapping: Mapping, fd: int) -> socket.socket:
        """The invocation's listener `fd`, checked as the invocation itself would check it; a
        mapping it cannot adopt makes it serve itself, reporting the exact error."""
        try:
            ours = pidfd_getfd(pidfd, fd)
        except OSError:
            raise RefusedError(b"local") from None
        try:
            return adopt_listener(mapping, ours)
        except ProxyError:
            os.close(ours)
            raise RefusedError(b"local") from None

    def on_command(self, client: Client) -> None:
        try:
            data = os.read(client.command, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.release(client)  # the stand-in is gone: so are its ports
            return
        if b"stop" in data:
            self._stop_serving(client)
            _say(client.answer, b"ok")

    def _stop_serving(self, client: Client) -> None:
        while client.proxies:
            client.proxies.pop().close()

    def release(self, client: Client) -> None:
        """Stop serving the client's ports and drop it; absence-tolerant."""
        if self.clients.pop(client.pidfd, None) is None:
            return
        self._stop_serving(client)
        self._reactor.forget(client.command)
        self._reactor.forget(client.pidfd, closing_sole_copy=True)
        for fd in (client.command, client.answer, client.pidfd):
            os.close(fd)
        if not self.clients:
            self._arm_idle_timer()


def _say(fd: int, line: bytes) -> None:
    with contextlib.suppress(OSError):  # a stand-in that left has nobody to tell
        os.write(fd, line + b"\n")


def _same_netns(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def run_hub(loop_name: str) -> None:
    """`pyproxy -hub -loop L`: make the FIFO, detach (the spawner waits for that), serve until
    idle for LINGER seconds, and remove the FIFO. Exits at once if a hub already serves."""
    # Nothing the spawning invocation had open stays with us: a listener dockerd passed it
    # would stay bound in the hub after the port is released.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    fifo_path, pid_path = invoke.hub_paths(loop_name)
    folder = os.path.dirname(fifo_path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.stat(folder)
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return  # not a folder of ours alone: invocations serve themselves
    if invoke.serving(fifo_path):
        return
    staging = f"{fifo_path}.{os.getpid()}"
    os.mkfifo(staging, 0o600)
    fifo = os.open(staging, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)  # never EOF: we write too
    ready_r, ready_w = os.pipe()
    if os.fork():
        os.close(ready_w)
        os.read(ready_r, 1)  # EOF once the child put its FIFO in place
        return
    os.close(ready_r)
    try:
        with open(f"{pid_path}.{os.getpid()}", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(f"{pid_path}.{os.getpid()}", pid_path)
        os.rename(staging, fifo_path)  # the last of two hubs starting at once wins
        inode = os.fstat(fifo).st_ino
    finally:
        os.close(ready_w)
    os.chdir("/")
    try:
        serve_hub(fifo, loop_name)
    finally:
        _remove_if_ours(fifo_path, pid_path, inode)
        sys.stderr.flush()
        os._exit(0)


def _remove_if_ours(fifo_path: str, pid_path: str, inode: int) -> None:
    with contextlib.suppress(OSError):
        if os.stat(fifo_path).st_ino == inode:
            os.unlink(fifo_path)
    with contextlib.suppress(OSError, ValueError), open(pid_path) as f:
        if int(f.read()) == os.getpid():
            os.unlink(pid_path)


def serve_hub(fifo: int, loop_name: str) -> None:
    """Run the hub on its FIFO until it has been idle for LINGER seconds."""
    log.setup()

    def start(clock: Clock, reactor: Reactor, stop: Callable[[], None]) -> Callable[[], None]:
        hub = Hub(fifo, loop_name, clock, reactor, stop)
        hub.start()
        return hub.close

    run_until_stopped(loop_name, start)
