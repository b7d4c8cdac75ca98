"""Rounds: every scenario runs every applicable target in turn (A B C D, A B C D, ...), so slow
drift on the machine spreads over all targets instead of favouring one. One progress line per
measurement, with an ETA from the estimates scaled by how long the finished ones really took."""

import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench import procfs, shared
from bench.context import Context
from bench.scenarios import Outcome, Scenario
from bench.targets import Target

BUSY_PCT = 20.0  # above this, a measurement is flagged as taken on a busy machine


@dataclass
class Measurement:
    round: int
    scenario: str
    target: str
    seconds: float
    busy_before_pct: float  # CPU that other processes used just before (see procfs.machine_busy)
    values: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(scenarios: list[Scenario], targets: list[Target]) -> list[tuple[int, Scenario, Target]]:
    rounds = max((s.rounds() for s in scenarios), default=0)
    return [
        (r, s, t)
        for r in range(rounds)
        for s in scenarios
        if r < s.rounds()
        for t in targets
        if s.applies(t)
    ]


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _summary(scenario: Scenario, outcome: Outcome) -> str:
    parts = []
    for m in scenario.metrics:
        vals = outcome.values.get(m.key)
        if vals:
            v = statistics.median(vals)
            text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
            parts.append(f"{m.key}={text}{(' ' + m.unit) if m.unit else ''}")
    for key, err in outcome.errors.items():
        parts.append(f"{key}: ERROR {err}")
    parts += outcome.notes
    return ", ".join(parts) or "no values"


def run(
    ctx: Context,
    scenarios: list[Scenario],
    targets: list[Target],
    measurements: list[Measurement],
    *,
    wait_quiet: float = 0.0,
    out: Any = sys.stdout,
) -> None:
    """Run the plan, appending to `measurements` as it goes (so an interrupt keeps them).
    With wait_quiet, wait up to that many seconds before each measurement for other processes
    to leave the CPUs below BUSY_PCT."""
    steps = plan(scenarios, targets)
    estimates = [s.estimate(t) for _, s, t in steps]
    total_rounds = max((r for r, _, _ in steps), default=-1) + 1
    started = time.monotonic()
    done_estimate = 0.0
    for i, ((rnd, scenario, target), estimate) in enumerate(zip(steps, estimates, strict=True)):
        busy = procfs.machine_busy() * 100
        quiet_by = time.monotonic() + wait_quiet
        while busy > BUSY_PCT and time.monotonic() < quiet_by:
            busy = procfs.machine_busy(1.0) * 100
        t0 = time.monotonic()
        try:
            outcome = scenario.measure(ctx, target)
        except Exception as e:  # one failed measurement must not lose the others
            outcome = Outcome(errors={"*": f"{type(e).__name__}: {e}"})
        finally:
            if target.mode == "shared":
                shared.stop_hubs()  # the next measurement starts from a fresh hub
        seconds = time.monotonic() - t0
        measurements.append(
            Measurement(
                rnd + 1,
                scenario.name,
                target.name,
                seconds,
                round(busy, 1),
                outcome.values,
                outcome.errors,
                outcome.notes,
            )
        )
        done_estimate += estimate
        elapsed = time.monotonic() - started
        scale = elapsed / done_estimate if done_estimate else 1.0
        eta = sum(estimates[i + 1 :]) * scale
        print(
            f"[{i + 1:3d}/{len(steps)} {_duration(elapsed)} ETA {_duration(eta)}] "
            f"round {rnd + 1}/{total_rounds} {scenario.name:9s} {target.name:21s} "
            f"{seconds:5.1f}s  {_summary(scenario, outcome)}"
            + (f"  [busy machine: {busy:.0f}% CPU used by others]" if busy > BUSY_PCT else ""),
            file=out,
            flush=True,
        )
