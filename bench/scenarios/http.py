"""HTTP through the target with wrk: keep-alive requests/s, and new connections/s.

Both also report the proxy's CPU time per request (user + system, its whole process tree):
on a 2-core machine shared with wrk and the backend, a single-threaded proxy's rate is set
by that cost, so it says where a rate gap comes from.
"""

from bench import procfs
from bench.context import HTTP_PORT, Context
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start
from bench.tools import wrk


class _Wrk(Scenario):
    close = False
    key = ""
    cpu_key = ""

    def seconds(self) -> float:
        return self.settings.connrate_seconds if self.close else self.settings.http_seconds

    def estimate(self, target: Target) -> float:
        return max(1, round(self.seconds())) + 0.4

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        with start(ctx, target, [Forward("tcp", HTTP_PORT)]) as run:
            cpu0 = procfs.tree_cpu_seconds(run.pids)
            r = wrk(run.addr("tcp"), self.seconds(), self.settings.wrk_connections, self.close)
            cpu = procfs.tree_cpu_seconds(run.pids) - cpu0
        out.add(self.key, r.requests_per_second)
        if target.is_proxy and r.requests:
            out.add(self.cpu_key, cpu / r.requests * 1e6)
        if r.errors:
            out.notes.append(f"{r.errors} wrk errors in {r.requests} requests")
        return out


class HttpKeepAlive(_Wrk):
    name = "http"
    title = "HTTP keep-alive, wrk"
    key = "http_rps"
    cpu_key = "http_cpu_us"
    metrics = (
        Metric(key, "HTTP keep-alive", "req/s", "higher", "rate"),
        Metric(cpu_key, "proxy CPU per keep-alive request", "CPU-us", "lower", "cpu"),
    )


class ConnectionRate(_Wrk):
    name = "connrate"
    title = "New TCP connections, wrk with Connection: close"
    close = True
    key = "connrate_per_s"
    cpu_key = "connrate_cpu_us"
    metrics = (
        Metric(key, "new connections (HTTP, Connection: close)", "conn/s", "higher", "rate"),
        Metric(cpu_key, "proxy CPU per new connection", "CPU-us", "lower", "cpu"),
    )
