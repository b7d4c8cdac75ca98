"""Backends inside the namespace: TCP/UDP echo, an HTTP responder, and one-off iperf3 servers.

The HTTP responder is HAProxy answering `200 ok` itself (`http-request return`): C speed and
good at keep-alive, unlike busybox httpd. `direct` shows none of them is the bottleneck.
"""

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench import procfs
from bench.context import ECHO_PORT, ECHO_PORTS, HTTP_PORT, IPERF_PORT, Context
from bench.procs import Child, SpawnError, spawn, stop_all
from bench.targets import HAPROXY

IPERF3 = "/usr/bin/iperf3"


def http_config(ns_ip: str) -> str:
    return f"""global
    nbthread 1
    maxconn 9500

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s

frontend ok
    bind {ns_ip}:{HTTP_PORT}
    http-request return status 200 content-type text/plain string ok
"""


def wait_listening(child: Child, port: int, proto: str = "tcp", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not procfs.listening(child.pid, port, proto):
        if child.poll():
            raise SpawnError(f"{' '.join(child.argv)}: exited ({child.exit_status})")
        if time.monotonic() > deadline:
            raise SpawnError(f"{' '.join(child.argv)}: not listening on {port}/{proto}")
        time.sleep(0.002)


@dataclass
class Backends:
    children: list[Child] = field(default_factory=list)

    def stop(self) -> None:
        stop_all(self.children)


@contextmanager
def running_backends(ctx: Context) -> Iterator[Backends]:
    """Start the long-lived backends: TCP echo on ECHO_PORT..+ECHO_PORTS-1, UDP echo on
    ECHO_PORT, HTTP on HTTP_PORT."""
    backends = Backends()
    try:
        tcp_ports = f"{ECHO_PORT}-{ECHO_PORT + ECHO_PORTS - 1}"
        for kind, ports in (("tcp-echo", tcp_ports), ("udp-echo", str(ECHO_PORT))):
            argv = ctx.bed.exec_argv([sys.executable, "-m", "bench.servers", kind, ports])
            child = spawn(argv, ready_pipe=True, log_path=ctx.log_path)
            backends.children.append(child)
            child.wait_ready()
        cfg = os.path.join(ctx.workdir, "http-backend.cfg")
        with open(cfg, "w") as f:
            f.write(http_config(ctx.bed.ns_ip))
        child = spawn(ctx.bed.exec_argv([HAPROXY, "-db", "-f", cfg]), log_path=ctx.log_path)
        backends.children.append(child)
        wait_listening(child, HTTP_PORT)
        yield backends
    finally:
        backends.stop()


@contextmanager
def iperf3_server(ctx: Context) -> Iterator[Child]:
    """A one-off iperf3 server for one test (a fresh one cannot be stuck from the last test)."""
    argv = ctx.bed.exec_argv([IPERF3, "-s", "-1", "-p", str(IPERF_PORT)])
    child = spawn(argv, log_path=ctx.log_path)
    try:
        wait_listening(child, IPERF_PORT)
        yield child
    finally:
        child.stop(timeout=2.0)
