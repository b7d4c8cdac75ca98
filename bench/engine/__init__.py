"""`python -m bench engine`: the shim and runtime layer beside the real peers, in one run.

Targets: `pyshim` (ours, via engine.tasks.client), `containerd-shim-runc-v2` (driven by its own
private containerd, started and stopped here), `runc` (bare `runc run`, the floor).
Scenarios (`--only`): `memory` (RSS/PSS per shim with N live containers), `lifecycle`
(create+start+exit+delete of `true`), and pyengine against a private dockerd 20.10 (issue 6):
`run` (`run --rm busybox true`, with bare `runc run`), `ports` (`run -d` publishing a 1001-port
range: time to ready, memory, `rm -f`), `many` (memory of 50 running containers with a port each);
and the Docker Engine API (issue 14): `api`, the docker CLI against `pyengine system service`
and against dockerd (`run --rm`, `ps` and parallel `run -d`/`rm -f` with `--many` containers,
the idle server's memory).
"""

import argparse
import fcntl
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

from bench.engine.report import render
from bench.engine.scenarios import SCENARIOS, Context

RESULTS = Path(__file__).resolve().parent.parent / "results"
LOCK = "/run/pybench-engine.lock"  # one engine bench at a time: fixed names, bridges, ports


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under 2 min)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument(
        "--runs", type=int, help="lifecycle and run repetitions per target (default 20, quick 5)"
    )
    parser.add_argument("--containers", type=int, default=3, help="live containers for memory")
    parser.add_argument(
        "--port-rounds", type=int, help="ports: rounds per engine (default 3, quick 1)"
    )
    parser.add_argument(
        "--ports", type=int, help="ports: published range size (default 1001, quick 101)"
    )
    parser.add_argument("--many", type=int, help="many: running containers (default 50, quick 10)")
    parser.add_argument("--no-docker", action="store_true", help="skip the dockerd peer")
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
    lock = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another `python -m bench engine` holds {LOCK}", file=sys.stderr)
        return 2
    runs = args.runs or (5 if args.quick else 20)
    settings = {
        "runs": runs,
        "containers": args.containers,
        "port_rounds": args.port_rounds or (1 if args.quick else 3),
        "port_count": args.ports or (101 if args.quick else 1001),
        "containers_many": args.many or (10 if args.quick else 50),
    }
    results: dict[str, object] = {}
    interrupted = False
    t0 = time.monotonic()
    load_before = _loadavg()

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    ctx = Context(containerd=not args.no_containerd, docker=not args.no_docker)
    try:
        with ctx:
            for name in names:
                print(f"== {name}", file=sys.stderr)
                results[name] = SCENARIOS[name](ctx, **settings)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: cleaned up, writing partial results", file=sys.stderr)
    meta = {
        "command": "python -m bench engine " + " ".join(argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "versions": ctx.versions,
        "settings": settings,
        "wall_s": round(time.monotonic() - t0, 1),
        "load_before": load_before,
        "load_after": _loadavg(),
        "interrupted": interrupted,
        "docker_error": ctx.docker_error,
        "cleanup_notes": ctx.notes,
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
    return 130 if interrupted else 0


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
