"""`python -m bench network`: pyplumb's bridge driver beside the reference CNI plugins.

Targets, in one run and one scratch host namespace:
  cni-bridge   /usr/lib/cni/bridge + host-local, exec'd per call as a runtime does
  pyplumb      bridge.Driver in-process (how pyengine uses it): IPAM + veth + nft
  pybridge     our CNI plugin exec'd per call, each call in its own process (PYENGINE_FORKSERVER=0)
  pybridge-warm  the same exec'd plugin handed to the warm process that serves pyengine too
               (a run root of its own, the server started by the first call, stopped at the end)
Metrics: endpoint ADD/DEL per call, VERSION per call (the exec'd plugins' start-up alone),
tearing N endpoints down serially vs in one batch, and publishing many ports (ours: map
elements; reference: portmap, one rule set per port).
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import netns
from bench.net_measure import (
    CNI_DIR,
    Samples,
    cni_conf,
    cni_cycle,
    in_namespace,
    library_cycle,
    library_ports,
    library_teardown,
    make_network,
    portmap_ports,
    scratch_dir,
    stop_server,
    warm_server,
)
from bench.net_report import write_report
from bridge import Driver

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = ("cni-bridge", "pyplumb", "pybridge", "pybridge-warm")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--quick", action="store_true", help="20 endpoints, 1 round")
    parser.add_argument("--endpoints", type=int, default=50, help="endpoints per round (50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--teardown", type=int, default=100, help="endpoints torn down (100)")
    parser.add_argument("--ports", type=int, default=1000, help="ports published (1000)")
    parser.add_argument(
        "--portmap-ports",
        type=int,
        default=100,
        help="ports given to the reference portmap plugin (100: it needs ~45 s for 1000)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output directory ({RESULTS})")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG chart")
    parser.add_argument(
        "--pybridge",
        default=str(Path(sys.executable).parent / "pybridge"),
        help="the pybridge executable (default: next to this Python)",
    )


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if os.geteuid() != 0:
        print("python -m bench network needs root (namespaces, bridges, nftables)", file=sys.stderr)
        return 2
    for exe in (f"{CNI_DIR}/bridge", f"{CNI_DIR}/host-local", args.pybridge):
        if not os.access(exe, os.X_OK):
            print(f"missing {exe}", file=sys.stderr)
            return 2
    n = 20 if args.quick else args.endpoints
    rounds = 1 if args.quick else args.rounds
    prefix = "pyb" + os.urandom(3).hex()
    made: list[str] = []
    servers: list[int] = []  # the warm process this run started
    tmp = scratch_dir()
    samples = {t: Samples() for t in TARGETS}

    def new_ns(suffix: str) -> str:
        name = prefix + suffix
        netns.create(name)
        made.append(name)
        return name

    try:
        host = new_ns("h")
        netns.loopback_up(host)
        spaces = [new_ns(f"c{i}") for i in range(max(n, args.teardown))]

        warm_root = tmp / "run"

        def measure() -> None:
            warm = warm_server(
                args.pybridge, cni_conf("pybridge", tmp, 6, "pybwarm"), warm_root, host
            )
            servers.append(warm)
            with Driver(tmp / "lib", table="pyb_lib") as driver:
                make_network(driver, 2, "pyblib")
                make_network(driver, 4, "pybtd")
                make_network(driver, 5, "pybports")
                for r in range(rounds):
                    print(f"round {r + 1}/{rounds}: {n} endpoints per target", file=sys.stderr)
                    cni_cycle(
                        f"{CNI_DIR}/bridge",
                        cni_conf("bridge", tmp, 1, "pybref"),
                        spaces[:n],
                        samples["cni-bridge"],
                    )
                    library_cycle(driver, "pyblib", spaces[:n], samples["pyplumb"])
                    cni_cycle(
                        args.pybridge,
                        cni_conf("pybridge", tmp, 3, "pybexec"),
                        spaces[:n],
                        samples["pybridge"],
                        {"PYENGINE_FORKSERVER": "0"},  # its own process every call
                    )
                    cni_cycle(
                        args.pybridge,
                        cni_conf("pybridge", tmp, 6, "pybwarm"),
                        spaces[:n],
                        samples["pybridge-warm"],
                        {"PYENGINE_RUN": str(warm_root)},  # the warm process serves it
                    )
                print(f"teardown of {args.teardown}, {args.ports} ports", file=sys.stderr)
                library_teardown(driver, "pybtd", spaces[: args.teardown], samples["pyplumb"])
                library_ports(driver, "pybports", spaces[0], args.ports, samples["pyplumb"])
                try:
                    portmap_ports(tmp, spaces[1], args.portmap_ports, samples["cni-bridge"])
                except (RuntimeError, OSError) as exc:
                    samples["cni-bridge"].notes.append(f"portmap: {exc}")
                ref_teardown(spaces[: args.teardown], tmp, samples["cni-bridge"])

        in_namespace(host, measure)
    finally:
        for pid in servers:
            stop_server(pid)
        for name in reversed(made):
            netns.remove(name)
        shutil.rmtree(tmp, ignore_errors=True)

    medians = {
        t: {k: statistics.median(v) for k, v in s.values.items()} for t, s in samples.items()
    }
    doc: dict[str, Any] = {
        "meta": {
            "argv": argv,
            "endpoints": n,
            "rounds": rounds,
            "teardown": args.teardown,
            "ports": args.ports,
            "portmap_ports": args.portmap_ports,
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "medians": medians,
        "samples": {t: s.values for t, s in samples.items()},
        "notes": {t: s.notes for t, s in samples.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "network.json").write_text(json.dumps(doc, indent=1) + "\n")
    table = write_report(args.out, doc, charts=not args.no_charts)
    print(table)
    return 0


def ref_teardown(spaces: list[str], tmp: Path, out: Samples) -> None:
    """The reference's only teardown: one DEL per endpoint, one after another."""
    import time

    from bench.net_measure import run_cni

    conf = cni_conf("bridge", tmp, 6, "pybreftd")
    for i, ns in enumerate(spaces):
        run_cni(f"{CNI_DIR}/bridge", "ADD", conf, f"td{i}", ns)
    t = time.perf_counter_ns()
    for i, ns in enumerate(spaces):
        run_cni(f"{CNI_DIR}/bridge", "DEL", conf, f"td{i}", ns)
    out.add("teardown_serial_ms", (time.perf_counter_ns() - t) / 1e6)
