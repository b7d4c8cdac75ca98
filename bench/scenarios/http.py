"""HTTP through the target with wrk: keep-alive requests/s, and new connections/s."""

from bench.context import HTTP_PORT, Context
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start
from bench.tools import wrk


class _Wrk(Scenario):
    close = False
    key = ""

    def seconds(self) -> float:
        return self.settings.connrate_seconds if self.close else self.settings.http_seconds

    def estimate(self, target: Target) -> float:
        return max(1, round(self.seconds())) + 0.4

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        with start(ctx, target, [Forward("tcp", HTTP_PORT)]) as run:
            r = wrk(run.addr("tcp"), self.seconds(), self.settings.wrk_connections, self.close)
        out.add(self.key, r.requests_per_second)
        if r.errors:
            out.notes.append(f"{r.errors} wrk errors in {r.requests} requests")
        return out


class HttpKeepAlive(_Wrk):
    name = "http"
    title = "HTTP keep-alive, wrk"
    key = "http_rps"
    metrics = (Metric(key, "HTTP keep-alive", "req/s", "higher", "rate"),)


class ConnectionRate(_Wrk):
    name = "connrate"
    title = "New TCP connections, wrk with Connection: close"
    close = True
    key = "connrate_per_s"
    metrics = (
        Metric(key, "new connections (HTTP, Connection: close)", "conn/s", "higher", "rate"),
    )
