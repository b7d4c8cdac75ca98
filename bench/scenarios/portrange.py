"""Publishing a 1001-port range on 0.0.0.0 and [::], as dockerd does for `-p P-P+1000:...`.

docker-proxy: one process per port and family (2002), started one after another, each waited
for its `0\\n`. pyproxy: one process with two -map ranges. pyproxy in shared mode: started as
dockerd would (2002 invocations, each handing its port to one hub and waiting as a shell).
Reports the time until all are ready, total PSS and RSS (hub included), and the time to stop them
all with SIGINT (the hub too), then checks none is left.
"""

import time

from bench import procfs
from bench.context import RANGE_CONTAINER_PORT, Context
from bench.ports import free_range
from bench.procs import Child, spawn, stop_all
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.shared import find_hubs, pyproxy_env, stop_pids
from bench.targets import Target, docker_proxy_argv


class PortRange(Scenario):
    name = "range"
    title = "Publishing a 1001-port range on 0.0.0.0 and [::]"
    metrics = (
        Metric("range_ready_s", "range: spawn to all ready", "s", "lower", "range"),
        Metric("range_pss_mb", "range: total PSS", "MB", "lower", "range"),
        Metric("range_rss_mb", "range: total RSS", "MB", "lower", "range-rss"),
        Metric("range_stop_s", "range: SIGINT to all gone", "s", "lower", "range"),
        Metric("range_processes", "range: processes", "", "lower", "range-count"),
    )

    def applies(self, target: Target) -> bool:
        return target.speaks_fd3

    def rounds(self) -> int:
        return min(self.settings.range_rounds, self.settings.rounds)

    def estimate(self, target: Target) -> float:
        n = self.settings.range_ports
        if target.kind == "docker-proxy":
            return 1.0 + n * 2 * 0.004
        return 1.0 + (n * 2 * 0.02 if target.mode == "shared" else n * 0.0005)

    def _argvs(self, ctx: Context, target: Target, first: int) -> list[list[str]]:
        n, ctr = self.settings.range_ports, RANGE_CONTAINER_PORT
        if target.kind == "docker-proxy" or target.mode == "shared":
            per_port = [
                docker_proxy_argv("tcp", host_ip, port, ctx.bed.ns_ip, ctr + i)
                for i, port in enumerate(range(first, first + n))
                for host_ip in ("0.0.0.0", "::")
            ]
            if target.kind == "docker-proxy":
                return per_port
            extra = ["-loop", target.loop, "-relay", target.relay]
            return [[ctx.pyproxy, *argv[1:], *extra] for argv in per_port]
        last, ctr_last = first + n - 1, ctr + n - 1
        argv = [ctx.pyproxy, "-loop", target.loop, "-relay", target.relay]
        for host in ("0.0.0.0", "[::]"):
            argv += ["-map", f"{host}:{first}-{last}:{ctx.bed.ns_ip}:{ctr}-{ctr_last}/tcp"]
        return [argv]

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        argvs = self._argvs(ctx, target, free_range(self.settings.range_ports))
        env = pyproxy_env(target.mode) if target.kind == "pyproxy" else None
        children: list[Child] = []
        hubs: list[int] = []
        try:
            t0 = time.perf_counter()
            for argv in argvs:
                child = spawn(argv, ready_pipe=True, log_path=ctx.log_path, env=env)
                children.append(child)
                child.wait_ready()
            out.add("range_ready_s", time.perf_counter() - t0)
            hubs = find_hubs() if target.mode == "shared" else []
            time.sleep(0.5)
            mem = procfs.tree_memory([*(c.pid for c in children), *hubs])
            out.add("range_pss_mb", mem.pss_mb)
            out.add("range_rss_mb", mem.rss_mb)
            out.add("range_processes", mem.processes)
            t0 = time.perf_counter()
            killed = stop_all(children) + stop_pids(hubs)
            out.add("range_stop_s", time.perf_counter() - t0)
            if killed:
                out.notes.append(f"{len(killed)} processes ignored SIGINT and were killed")
            pids = [*(c.pid for c in children), *hubs]
            left = [p for p in pids if procfs.alive(p)]
            if left:
                out.errors["range_stop_s"] = f"{len(left)} processes still exist after stop"
        finally:
            stop_all(children)
            stop_pids(hubs)
        return out
