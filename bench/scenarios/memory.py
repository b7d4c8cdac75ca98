"""Memory of the proxy process tree: idle, then holding N concurrent TCP connections.

Connections are opened through the target to the namespace's echo server and each is verified
end to end (1 byte echoed), so the proxy really holds both sides. RSS and PSS come from
/proc/<pid>/smaps_rollup, summed over the tree (socat forks one process per connection).
"""

import socket
import time

from bench import procfs
from bench.context import Context, Settings
from bench.loadgen import LoadError, close_all, open_connections
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start

SETTLE = 0.5


class Memory(Scenario):
    name = "memory"
    title = "Memory (RSS, PSS), idle and with concurrent TCP connections"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        metrics = [
            Metric("idle_pss_mb", "idle PSS", "MB", "lower", "memory"),
            Metric("idle_rss_mb", "idle RSS", "MB", "lower", "memory-rss"),
            Metric("fds_per_conn", "fds per relayed connection (process tree)", "", "lower", "fds"),
        ]
        for n in settings.mem_conns:
            metrics.append(Metric(f"pss_mb_{n}", f"PSS with {n} conns", "MB", "lower", "memory"))
            metrics.append(
                Metric(f"rss_mb_{n}", f"RSS with {n} conns", "MB", "lower", "memory-rss")
            )
        self.metrics = tuple(metrics)

    def applies(self, target: Target) -> bool:
        return target.is_proxy

    def estimate(self, target: Target) -> float:
        most = max(self.settings.mem_conns, default=0)
        per_conn = 1e-3 if target.kind == "socat" else 2.5e-4
        return 0.5 + SETTLE * (1 + len(self.settings.mem_conns)) + most * per_conn

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        with start(ctx, target, [Forward("tcp", ctx.echo_port())]) as run:
            time.sleep(SETTLE)
            mem = procfs.tree_memory(run.pids)
            idle_fds = procfs.tree_fds(run.pids)
            out.add("idle_pss_mb", mem.pss_mb)
            out.add("idle_rss_mb", mem.rss_mb)
            conns: list[socket.socket] = []
            try:
                for n in sorted(self.settings.mem_conns):
                    try:
                        conns += open_connections(
                            run.addr("tcp"), n - len(conns), already=len(conns)
                        )
                    except LoadError as e:
                        exited = run.children[0].wait(1.0)
                        why = f"{e}" + (" (the proxy exited)" if exited else "")
                        for m in sorted(self.settings.mem_conns):
                            if m >= n:
                                for key in (f"pss_mb_{m}", f"rss_mb_{m}"):
                                    out.errors[key] = why
                        break
                    time.sleep(SETTLE)
                    mem = procfs.tree_memory(run.pids)
                    out.add(f"pss_mb_{n}", mem.pss_mb)
                    out.add(f"rss_mb_{n}", mem.rss_mb)
                    if n == min(self.settings.mem_conns):
                        out.add("fds_per_conn", (procfs.tree_fds(run.pids) - idle_fds) / n)
                    if mem.processes > 1:
                        out.notes.append(f"{n} conns: {mem.processes} processes")
            finally:
                close_all(conns)
        return out
