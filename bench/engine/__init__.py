"""`python -m bench engine`: the shim and runtime layer beside the real peers, in one run.

Targets: `pyshim` (ours, via engine.shim.client), `containerd-shim-runc-v2` (driven by its own
private containerd, started and stopped here), `runc` (bare `runc run`, the floor).
Scenarios (`--only`): `memory` (RSS/PSS per shim with N live containers), `lifecycle`
(create+start+exit+delete of `true`). SCENARIOS maps names to functions, so pyengine-vs-docker
scenarios (issue 6) can be added beside these.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench.engine.report import render
from bench.engine.scenarios import SCENARIOS, Context

RESULTS = Path(__file__).resolve().parent.parent / "results"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 30 s)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument("--runs", type=int, help="lifecycle repetitions per target (default 20)")
    parser.add_argument("--containers", type=int, default=3, help="live containers for memory")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output dir ({RESULTS})")
    parser.add_argument("--no-containerd", action="store_true", help="skip the containerd peer")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("python -m bench engine needs root (runc, cgroups, containerd)", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios {unknown}; known: {list(SCENARIOS)}", file=sys.stderr)
        return 2
    runs = args.runs or (5 if args.quick else 20)
    results: dict[str, object] = {}
    with Context(containerd=not args.no_containerd) as ctx:
        for name in names:
            print(f"== {name}", file=sys.stderr)
            results[name] = SCENARIOS[name](ctx, runs=runs, containers=args.containers)
    meta = {
        "command": "python -m bench engine " + " ".join(argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "versions": ctx.versions,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "engine.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    text = render(meta, results)
    (args.out / "engine.md").write_text(text)
    if not args.no_charts:
        from bench.engine.charts import render as render_charts

        for path in render_charts(args.out, results):
            print(f"wrote {path}", file=sys.stderr)
    print(text)
    return 0
