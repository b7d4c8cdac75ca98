"""`python -m bench proxy|network|engine [--quick] ...`: one suite per subsystem."""

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from bench.scenarios import NAMES
from bench.targets import ALL_TARGETS, QUICK_TARGETS

RESULTS = Path(__file__).resolve().parent / "results"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parser(suite: str = "") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = p.add_subparsers(dest="suite", required=True)
    proxy = sub.add_parser(
        "proxy",
        help="pyproxy vs docker-proxy, socat, HAProxy and direct (needs root)",
        description="Benchmark pyproxy against docker-proxy, socat, HAProxy and `direct` in a "
        "pybench- network namespace behind a bridge. Results go to --out.",
    )
    proxy.add_argument(
        "--quick", action="store_true", help=f"short runs, targets {','.join(QUICK_TARGETS)}"
    )
    proxy.add_argument("--rounds", type=int, help="rounds (default 3, --quick 1)")
    proxy.add_argument(
        "--only", type=_csv, metavar="SCENARIO,...", help=f"scenarios among {','.join(NAMES)}"
    )
    proxy.add_argument(
        "--targets",
        type=_csv,
        metavar="TARGET,...",
        help="targets (fnmatch patterns, e.g. 'pyproxy*') among "
        + ",".join(t.name for t in ALL_TARGETS),
    )
    proxy.add_argument("--haproxy-threads", type=int, choices=(1, 2), default=2)
    proxy.add_argument("--out", type=Path, default=RESULTS, help=f"output directory ({RESULTS})")
    proxy.add_argument(
        "--pyproxy",
        default=str(Path(sys.executable).parent / "pyproxy"),
        help="the pyproxy executable (default: next to this Python)",
    )
    proxy.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    proxy.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rebuild proxy.md and the charts from --out's proxy.json",
    )
    proxy.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to SECONDS for other processes to leave the "
        "CPUs (less than 20%% busy); measurements taken on a busy machine are flagged anyway",
    )
    for name, (module_name, help_text) in SUITES.items():
        # A suite's module is imported only when that suite runs (each pulls in its own peers).
        if name == suite and importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).configure(sub.add_parser(name, help=help_text))
        else:
            sub.add_parser(name, help=help_text)
    return p


# Suites beside `proxy`, each a module with `configure(parser)` and `run(args, argv) -> int`.
SUITES: dict[str, tuple[str, str]] = {
    "network": ("bench.network", "pybridge vs the reference CNI bridge + host-local (needs root)"),
    "engine": ("bench.engine", "pyengine and pyshim vs docker, containerd-shim and runc"),
    "dns": ("bench.dns", "a user network's DNS server vs dnsmasq on the same records"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv[0] if argv else "").parse_args(argv)
    if args.suite in SUITES:
        suite = importlib.import_module(SUITES[args.suite][0])
        return int(suite.run(args, argv))
    from bench.session import run_proxy_bench

    return run_proxy_bench(args, argv)


if __name__ == "__main__":
    sys.exit(main())
