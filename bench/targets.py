"""The things measured: pyproxy in each mode, docker-proxy, socat, HAProxy, and `direct`.

A target is started for a list of forwards (proto + backend port in the namespace); it listens on
127.0.0.1 and relays to the namespace address. `direct` starts nothing: the client goes straight
to the backend, which is the limit every proxy is measured against.
"""

import fnmatch
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import procfs
from bench.context import Context
from bench.procs import Child, SpawnError, spawn, stop_all
from bench.shared import pyproxy_env, wait_for_hub

DOCKER_PROXY = "/usr/sbin/docker-proxy"
SOCAT = "/usr/bin/socat"
HAPROXY = "/usr/sbin/haproxy"
LISTEN_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Forward:
    proto: str  # "tcp" or "udp"
    backend_port: int


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # pyproxy | docker-proxy | socat | haproxy | direct
    relay: str = ""
    loop: str = ""
    mode: str = "standalone"  # pyproxy: standalone or shared (PYPROXY_MODE)

    @property
    def is_proxy(self) -> bool:
        return self.kind != "direct"

    @property
    def speaks_fd3(self) -> bool:
        """Reports readiness with `0\\n` on fd 3 (the docker-proxy contract)."""
        return self.kind in ("pyproxy", "docker-proxy")

    @property
    def udp(self) -> bool:
        return self.kind in ("pyproxy", "docker-proxy", "direct")

    @property
    def label(self) -> str:
        return self.name


ALL_TARGETS = (
    Target("pyproxy", "pyproxy", "auto", "epoll"),
    Target("pyproxy-splice", "pyproxy", "splice", "epoll"),
    Target("pyproxy-copy", "pyproxy", "copy", "epoll"),
    Target("pyproxy-uvloop", "pyproxy", "auto", "uvloop"),
    Target("pyproxy-asyncio", "pyproxy", "auto", "asyncio"),
    Target("pyproxy-shared", "pyproxy", "auto", "epoll", "shared"),
    Target("docker-proxy", "docker-proxy"),
    Target("socat", "socat"),
    Target("haproxy", "haproxy"),
    Target("direct", "direct"),
)
QUICK_TARGETS = ("pyproxy", "pyproxy-splice", "docker-proxy", "socat", "haproxy", "direct")
BASELINE = "docker-proxy"


def select_targets(patterns: Sequence[str] | None, quick: bool) -> list[Target]:
    """Targets whose name matches any pattern (fnmatch: `pyproxy*` is every pyproxy mode)."""
    if not patterns:
        wanted = QUICK_TARGETS if quick else tuple(t.name for t in ALL_TARGETS)
        return [t for t in ALL_TARGETS if t.name in wanted]
    chosen = [t for t in ALL_TARGETS if any(fnmatch.fnmatchcase(t.name, p) for p in patterns)]
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(t.name, p) for t in ALL_TARGETS)]
    if unknown:
        names = ", ".join(t.name for t in ALL_TARGETS)
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; known: {names}")
    return chosen


@dataclass
class Running:
    """A started target: where clients connect, and the processes behind it."""

    target: Target
    addrs: dict[str, tuple[str, int]]
    children: list[Child] = field(default_factory=list)
    ready_seconds: float = 0.0
    others: list[int] = field(default_factory=list)  # not our children: pyproxy's shared hub

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self.children] + self.others

    def addr(self, proto: str = "tcp") -> tuple[str, int]:
        return self.addrs[proto]

    def stop(self) -> None:
        """Stop the children; a shared hub is stopped by the runner after the measurement."""
        stop_all(self.children)

    def __enter__(self) -> "Running":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pyproxy_argv(ctx: Context, target: Target, port: int, forwards: Sequence[Forward]) -> list[str]:
    first, *rest = forwards
    argv = [ctx.pyproxy, "-proto", first.proto, "-host-ip", LISTEN_HOST, "-host-port", str(port)]
    argv += ["-container-ip", ctx.bed.ns_ip, "-container-port", str(first.backend_port)]
    argv += ["-loop", target.loop, "-relay", target.relay]
    for fw in rest:
        argv += ["-map", f"{LISTEN_HOST}:{port}:{ctx.bed.ns_ip}:{fw.backend_port}/{fw.proto}"]
    return argv


def docker_proxy_argv(
    proto: str, host_ip: str, host_port: int, ctr_ip: str, ctr_port: int
) -> list[str]:
    return [
        DOCKER_PROXY,
        *("-proto", proto, "-host-ip", host_ip, "-host-port", str(host_port)),
        *("-container-ip", ctr_ip, "-container-port", str(ctr_port)),
    ]


def haproxy_config(ctx: Context, port: int, backend_port: int) -> str:
    threads = ctx.settings.haproxy_threads
    # HAProxy reserves 2 fds per connection and 2 per splice pipe, and checks the total against
    # the hard RLIMIT_NOFILE of 20000: 9500 connections and 400 pipes fit.
    return f"""global
    nbthread {threads}
    maxconn 9500
    maxpipes 400

defaults
    mode tcp
    option splice-auto
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend fe
    bind {LISTEN_HOST}:{port}
    default_backend be

backend be
    server ns {ctx.bed.ns_ip}:{backend_port}
"""


def _wait_listening(child: Child, port: int, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while not procfs.listening(child.pid, port):
        if child.poll():
            raise SpawnError(f"{child.argv[0]} exited with status {child.exit_status}")
        if time.monotonic() > deadline:
            raise SpawnError(f"{child.argv[0]} is not listening on {port} after {timeout:g}s")
        time.sleep(0.002)
    return time.perf_counter() - child.started


def start(ctx: Context, target: Target, forwards: Sequence[Forward]) -> Running:
    """Start target so that every forward is served on one 127.0.0.1 port (TCP and/or UDP)."""
    if target.kind == "direct":
        return Running(target, {fw.proto: (ctx.bed.ns_ip, fw.backend_port) for fw in forwards})
    if any(fw.proto == "udp" for fw in forwards) and not target.udp:
        raise ValueError(f"{target.name} has no UDP")
    port = ctx.ports.take(LISTEN_HOST)
    running = Running(target, {fw.proto: (LISTEN_HOST, port) for fw in forwards})
    log = ctx.log_path
    try:
        if target.kind == "pyproxy" and target.mode == "shared":
            # As dockerd would: one invocation per proto; each hands its port to the hub.
            env = pyproxy_env(target.mode)
            for fw in forwards:
                argv = pyproxy_argv(ctx, target, port, [fw])
                child = spawn(argv, ready_pipe=True, log_path=log, env=env)
                running.children.append(child)
                running.ready_seconds += child.wait_ready()
            running.others = wait_for_hub()
            if not running.others:
                raise SpawnError("pyproxy shared mode: no hub process found")
        elif target.kind == "pyproxy":
            argv = pyproxy_argv(ctx, target, port, forwards)
            child = spawn(argv, ready_pipe=True, log_path=log, env=pyproxy_env(target.mode))
            running.children.append(child)
            running.ready_seconds = child.wait_ready()
        elif target.kind == "docker-proxy":
            for fw in forwards:
                argv = docker_proxy_argv(
                    fw.proto, LISTEN_HOST, port, ctx.bed.ns_ip, fw.backend_port
                )
                child = spawn(argv, ready_pipe=True, log_path=log)
                running.children.append(child)
                running.ready_seconds += child.wait_ready()
        elif target.kind == "socat":
            (fw,) = forwards
            argv = [
                SOCAT,
                f"TCP-LISTEN:{port},bind={LISTEN_HOST},fork,reuseaddr",
                f"TCP:{ctx.bed.ns_ip}:{fw.backend_port}",
            ]
            child = spawn(argv, log_path=log)
            running.children.append(child)
            running.ready_seconds = _wait_listening(child, port)
        elif target.kind == "haproxy":
            (fw,) = forwards
            cfg = os.path.join(ctx.workdir, f"haproxy-{port}.cfg")
            with open(cfg, "w") as f:
                f.write(haproxy_config(ctx, port, fw.backend_port))
            child = spawn([HAPROXY, "-db", "-f", cfg], log_path=log)
            running.children.append(child)
            running.ready_seconds = _wait_listening(child, port)
        else:
            raise ValueError(target.kind)
    except BaseException:
        running.stop()
        raise
    return running
