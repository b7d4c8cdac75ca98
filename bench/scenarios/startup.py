"""Time from spawn to `0\\n` on fd 3 (the dockerd readiness contract): fd-3 speakers only."""

from bench.context import Context
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start


class Startup(Scenario):
    name = "startup"
    title = "Spawn to ready (0\\n on fd 3)"
    metrics = (Metric("startup_ms", "spawn to ready", "ms", "lower", "startup"),)

    def applies(self, target: Target) -> bool:
        return target.speaks_fd3

    def estimate(self, target: Target) -> float:
        return self.settings.startup_spawns * (0.12 if target.kind == "pyproxy" else 0.03)

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        for _ in range(self.settings.startup_spawns):
            with start(ctx, target, [Forward("tcp", ctx.echo_port())]) as run:
                out.add("startup_ms", run.ready_seconds * 1000)
        return out
