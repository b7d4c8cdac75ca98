"""One `python -m bench proxy` run: check prerequisites, build the bed, run, write the results."""

import argparse
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from bench import charts, meta, report, results, runner, scenarios
from bench.backends import IPERF3, running_backends
from bench.context import QUICK, Context, Settings
from bench.procs import SpawnError, raise_fd_limit
from bench.runner import Measurement
from bench.scenarios import Scenario
from bench.targets import DOCKER_PROXY, HAPROXY, SOCAT, select_targets
from bench.testbed import TestbedError, testbed
from bench.tools import WRK


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _prerequisites(pyproxy: str) -> list[str]:
    missing = [
        p for p in (pyproxy, DOCKER_PROXY, SOCAT, HAPROXY, IPERF3, WRK) if not os.access(p, os.X_OK)
    ]
    return [f"{p} is missing (./scripts/setup installs it)" for p in missing]


def write_outputs(
    out_dir: Path,
    *,
    info: dict[str, Any],
    settings: Settings,
    chosen: list[Scenario],
    names: list[str],
    measurements: list[Measurement],
    with_charts: bool = True,
) -> list[str]:
    """proxy.md and the charts from the measurements; return the paths written."""
    for stale in out_dir.glob("proxy-*.png"):
        stale.unlink()
    pngs: list[str] = []
    if measurements and with_charts:
        med = results.medians(measurements)
        pngs = charts.render(out_dir, "proxy", results.all_metrics(chosen), med, names)
    md_path = out_dir / "proxy.md"
    md_path.write_text(
        report.render(
            meta=info,
            scenarios=chosen,
            targets=names,
            measurements=measurements,
            settings=settings,
            charts=pngs,
        )
    )
    return [str(md_path), *pngs]


def report_only(out_dir: Path, with_charts: bool) -> int:
    """Rebuild proxy.md and the charts from an existing proxy.json (no measuring, no root)."""
    json_path = out_dir / "proxy.json"
    if not json_path.exists():
        print(f"bench proxy: {json_path} does not exist", file=sys.stderr)
        return 2
    info, names, measurements = results.load_json(json_path)
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in info["settings"].items()
    }
    settings = Settings(**fields)
    ran = {m.scenario for m in measurements}
    chosen = scenarios.build(settings, [s for s in scenarios.NAMES if s in ran])
    written = write_outputs(
        out_dir,
        info=info,
        settings=settings,
        chosen=chosen,
        names=names,
        measurements=measurements,
        with_charts=with_charts,
    )
    print("bench proxy: rebuilt " + ", ".join(written), flush=True)
    return 0


def run_proxy_bench(args: argparse.Namespace, argv: list[str]) -> int:
    if args.report_only:
        return report_only(args.out, not args.no_charts)
    started = time.monotonic()
    if os.geteuid() != 0:
        print("bench proxy: needs root (network namespaces, bridges)", file=sys.stderr)
        return 2
    problems = _prerequisites(args.pyproxy)
    if problems:
        print("bench proxy: " + "; ".join(problems), file=sys.stderr)
        return 2
    settings: Settings = QUICK if args.quick else Settings()
    settings = replace(settings, haproxy_threads=args.haproxy_threads)
    if args.rounds:
        settings = replace(settings, rounds=args.rounds)
    try:
        targets = select_targets(args.targets, args.quick)
        chosen = scenarios.build(settings, args.only)
    except ValueError as e:
        print(f"bench proxy: {e}", file=sys.stderr)
        return 2
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "proxy-stderr.log"
    log_path.write_text("")
    fd_limit = raise_fd_limit()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    steps = runner.plan(chosen, targets)
    print(
        f"bench proxy: {len(steps)} measurements, {len(targets)} targets, "
        f"{len(chosen)} scenarios, {settings.rounds} round(s); fd limit {fd_limit}; "
        f"estimated {sum(s.estimate(t) for _, s, t in steps):.0f}s + set-up",
        flush=True,
    )
    info = meta.collect(settings, args.pyproxy, argv)
    info["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    measurements: list[Measurement] = []
    interrupted = False
    workdir = ""
    try:
        with testbed() as bed:
            # After testbed() has cleaned leftovers, which include stale pybench- directories.
            workdir = tempfile.mkdtemp(prefix="pybench-")
            ctx = Context(bed, settings, workdir, str(log_path), args.pyproxy)
            with running_backends(ctx):
                runner.run(ctx, chosen, targets, measurements, wait_quiet=args.wait_quiet)
    except KeyboardInterrupt:
        interrupted = True
        print("bench proxy: interrupted; test bed torn down", file=sys.stderr)
    except (TestbedError, SpawnError) as e:  # the bed or a backend could not be set up
        print(f"bench proxy: {e}", file=sys.stderr)
        return 1
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.monotonic() - started
    info["wall_seconds"] = round(wall, 1)
    info["wall"] = f"{int(wall // 60)}m{int(wall % 60):02d}s"
    info["interrupted"] = interrupted
    names = [t.name for t in targets]
    json_path = out_dir / "proxy.json"
    results.write_json(json_path, info, chosen, names, measurements)
    written = [str(json_path)]
    written += write_outputs(
        out_dir,
        info=info,
        settings=settings,
        chosen=chosen,
        names=names,
        measurements=measurements,
        with_charts=not args.no_charts,
    )
    print(f"bench proxy: done in {info['wall']}; wrote " + ", ".join(written), flush=True)
    return 130 if interrupted else 0
