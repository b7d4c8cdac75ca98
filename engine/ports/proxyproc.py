"""One pyproxy per container, started through its process contract (flags, fd 3), detached so
it outlives the engine command that started it, and stopped by pid only if it is still ours."""

import dataclasses
import fcntl
import os
import select
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.containers.ports import PortBinding
from engine.ports.errors import PortInUseError, ProxyStartError


@dataclass(frozen=True, slots=True)
class ProxyHandle:
    """A started proxy; `start_time` (from /proc) tells it from a later process with its pid."""

    pid: int
    start_time: int

    def text(self) -> str:
        """How the container record stores it."""
        return f"{self.pid}:{self.start_time}"

    @classmethod
    def parse(cls, text: str) -> "ProxyHandle":
        """The handle back from `text()`."""
        pid, _, start = text.partition(":")
        return cls(int(pid), int(start))


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def host_ipv6() -> bool:
    """Whether the host has IPv6 at all (a wildcard port is then served on `[::]` too)."""
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            return bool(f.read(1))
    except OSError:
        return False


def with_ipv6_wildcards(bindings: list[PortBinding]) -> list[PortBinding]:
    """A wildcard binding on both families, as Docker binds 0.0.0.0 and [::] for `-p 80:80`."""
    extra = [
        PortBinding(b.container_port, b.proto, "::", b.host_port) for b in bindings if not b.host_ip
    ]
    return bindings + extra


def proxy_order(bindings: list[PortBinding]) -> list[PortBinding]:
    """The order of `map_args`'s flags, which is the order pyproxy expands them into its
    mappings: the order of the listening sockets handed to it (`-use-listen-fd`)."""
    return sorted(bindings, key=lambda b: (b.proto, b.host_ip, b.host_port))


def map_args(bindings: list[PortBinding], container_ip: str) -> list[str]:
    """`-map` flags, consecutive ports folded into ranges so 1001 ports stay a short argv."""
    args: list[str] = []
    ordered = proxy_order(bindings)
    i = 0
    while i < len(ordered):
        first = ordered[i]
        j = i
        while (
            j + 1 < len(ordered)
            and (ordered[j + 1].proto, ordered[j + 1].host_ip) == (first.proto, first.host_ip)
            and ordered[j + 1].host_port == ordered[j].host_port + 1
            and ordered[j + 1].container_port == ordered[j].container_port + 1
        ):
            j += 1
        last = ordered[j]
        host = f"{first.host_port}" + (f"-{last.host_port}" if j > i else "")
        ctr = f"{first.container_port}" + (f"-{last.container_port}" if j > i else "")
        host_ip = _bracket(first.host_ip or "0.0.0.0")
        args += ["-map", f"{host_ip}:{host}:{_bracket(container_ip)}:{ctr}/{first.proto}"]
        i = j + 1
    return args


def _start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        # The command name may hold spaces; fields after the last ')' are fixed.
        return int(f.read().rpartition(")")[2].split()[19])


# In each proxy's environment: whose proxy it is, so that one whose starter died before it
# recorded the pid (kill -9 during the readiness wait) is still found (`find`).
OWNER_ENV = "PYENGINE_PROXY_FOR"
READY_TIMEOUT = 30.0  # seconds a proxy has to report on fd 3


@dataclass(frozen=True, slots=True)
class ProxyLaunch:
    """Everything that starts a container's proxy: the engine starts it with this, and hands it
    to the container's shim, which starts it again if the proxy dies (engine/shim/proxywatch.py)."""

    executable: str
    bindings: tuple[PortBinding, ...]
    container_ip: str
    log_path: str
    owner: str = ""
    hub_group: str = "pyengine"

    def to_json(self) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "bindings": [dataclasses.asdict(b) for b in self.bindings],
            "container_ip": self.container_ip,
            "log_path": self.log_path,
            "owner": self.owner,
            "hub_group": self.hub_group,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProxyLaunch":
        return cls(
            str(data["executable"]),
            tuple(_binding(b) for b in data["bindings"]),
            str(data["container_ip"]),
            str(data["log_path"]),
            str(data.get("owner", "")),
            str(data.get("hub_group", "pyengine")),
        )


def _binding(data: dict[str, Any]) -> PortBinding:
    span = data.get("host_range")
    return PortBinding(
        int(data["container_port"]),
        str(data["proto"]),
        str(data["host_ip"]),
        int(data["host_port"]),
        (int(span[0]), int(span[1])) if span else None,
    )


def launch(spec: ProxyLaunch, listeners: Sequence[socket.socket] = ()) -> ProxyHandle:
    """Start the proxy `spec` describes and wait for its `0\\n` on fd 3 (`listeners`: see
    `spawn`)."""
    pid, report = spawn(spec, listeners)
    try:
        answer = _read_answer(report, timeout=READY_TIMEOUT)
    finally:
        os.close(report)
    return ready(pid, answer)


def start(
    executable: str,
    bindings: list[PortBinding],
    container_ip: str,
    log_path: Path,
    *,
    owner: str = "",
    hub_group: str = "pyengine",
) -> ProxyHandle:
    """Start the proxy for these bindings and wait for its `0\\n` on fd 3."""
    return launch(
        ProxyLaunch(executable, tuple(bindings), container_ip, str(log_path), owner, hub_group)
    )


def listener_fd(index: int) -> int:
    """Where pyproxy adopts the listener of its mapping `index` with -use-listen-fd: fd 4 as
    dockerd passes it, the others above fds 5 and 6 (which its shared mode keeps for the hub's
    pipes; see proxy.standin)."""
    return 4 if index == 0 else 6 + index


def spawn(launch: ProxyLaunch, listeners: Sequence[socket.socket] = ()) -> tuple[int, int]:
    """Start the proxy; its pid and the read end of its readiness pipe (fd 3), which the
    caller reads (blocking, or from an event loop) and hands to `ready` with what it read.

    `listeners`: the bound sockets of `launch`'s bindings in `proxy_order` (allocate.py),
    handed over with -use-listen-fd; without them pyproxy binds (a restart by the shim).
    """
    bindings = list(launch.bindings)
    served = with_ipv6_wildcards(bindings) if host_ipv6() else bindings
    if listeners and len(listeners) != len(served):
        raise ProxyStartError(f"{len(listeners)} listening sockets for {len(served)} ports")
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    ours = [write_end]  # closed here once the child has its copies
    try:
        log_fd = os.open(
            launch.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640
        )
        ours.append(log_fd)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        ours.append(null)
        # Each listener is first copied above every target descriptor, so that no dup2 below
        # overwrites a socket a later one still has to copy.
        above = listener_fd(len(listeners)) + 1
        copies: list[int] = []
        for sock in listeners:
            copies.append(fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, above))
            ours.append(copies[-1])
        actions = [
            (os.POSIX_SPAWN_DUP2, null, 0),
            (os.POSIX_SPAWN_DUP2, log_fd, 1),
            (os.POSIX_SPAWN_DUP2, log_fd, 2),
            (os.POSIX_SPAWN_DUP2, write_end, 3),
            *((os.POSIX_SPAWN_DUP2, fd, listener_fd(i)) for i, fd in enumerate(copies)),
        ]
        # Shared mode: the ports go to one pyproxy hub per engine and this process becomes a
        # small /bin/sh stand-in holding the listeners; if the hub dies, the stand-in serves
        # them itself. Per container that is a shell's memory, not an interpreter's.
        argv = [launch.executable, "-mode", "shared", *map_args(served, launch.container_ip)]
        if listeners:
            argv.insert(1, "-use-listen-fd")
        env = {k: v for k, v in os.environ.items() if k != "PYPROXY_MODE"}
        env |= {OWNER_ENV: launch.owner, "PYPROXY_HUB": launch.hub_group}
        try:
            pid = os.posix_spawn(launch.executable, argv, env, file_actions=actions, setsid=True)
        except OSError as exc:
            message = f"could not start {launch.executable}: {exc.strerror}"
            raise ProxyStartError(message) from None
    except BaseException:
        os.close(read_end)
        raise
    finally:
        for fd in ours:
            os.close(fd)
    return pid, read_end


def ready(pid: int, answer: str) -> ProxyHandle:
    """The handle of a proxy that reported `answer` on fd 3; it is reaped and an error raised
    unless that was `0\\n`."""
    if answer != "0\n":
        _reap_or_kill(pid)
        message = answer[2:] if answer.startswith("1\n") else "no readiness report"
        if "address already in use" in message:
            raise PortInUseError(f"driver failed programming external connectivity: {message}")
        raise ProxyStartError(f"pyproxy failed: {message}")
    return ProxyHandle(pid, _start_time(pid))


def _read_answer(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data == b"0\n":
            break
    return data.decode(errors="replace")


def _reap_or_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def is_running(handle: ProxyHandle) -> bool:
    """Whether the proxy is alive and still the process we started."""
    try:
        return _start_time(handle.pid) == handle.start_time and not _is_zombie(handle.pid)
    except (OSError, ValueError, IndexError):
        return False


def _is_zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rpartition(")")[2].split()[0] == "Z"


def find(owner: str) -> list[ProxyHandle]:
    """Live proxies started for `owner` (from their environment)."""
    marker = f"\0{OWNER_ENV}={owner}\0".encode()
    hub_flag = b"\0-hub\0"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = b"\0" + f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if hub_flag in b"\0" + f.read():
                    continue  # the shared hub inherited the marker of the port that started it
            handle = ProxyHandle(int(name), _start_time(int(name)))
        except (OSError, ValueError, IndexError):
            continue
        if marker in environ and is_running(handle):
            found.append(handle)
    return found


def stop(handle: ProxyHandle, timeout: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; absent (or a stranger with its pid) is fine."""
    if not is_running(handle):
        _reap(handle.pid)
        return
    os.kill(handle.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(handle) and time.monotonic() < deadline:
        _reap(handle.pid)
        time.sleep(0.005)
    if is_running(handle):
        os.kill(handle.pid, signal.SIGKILL)
    _reap(handle.pid)


def _reap(pid: int) -> None:
    """Collect our own child's status; a proxy started by an earlier command is not ours."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
