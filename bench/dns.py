"""`python -m bench dns`: a user network's DNS server (engine/dns) beside dnsmasq, on the
same records, in one run.

Both serve N container names on loopback addresses of their own (ours: `python -m
engine.dns.server`, started as the engine starts it, sockets bound by the caller; dnsmasq:
the same names in an --addn-hosts file, no upstream). Measured, alternating per round:
- latency: one question at a time from one UDP socket (p50 and p99, microseconds);
- rate: dnsperf (Debian's `dnsperf`) with C clients for L seconds: queries per second, its
  average latency, and the server's CPU seconds per 1000 queries;
- memory: each server's RSS and PSS after the run.
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.message

from bench import procfs
from bench.report import fmt, fmt_ratio
from engine.dns.records import RECORDS, Entry, dump
from engine.lifecycle.resolver import ensure_server

RESULTS = Path(__file__).resolve().parent / "results"
OURS, PEER = "pyengine-dns", "dnsmasq"
ADDRESS = {OURS: "127.0.53.1", PEER: "127.0.53.2"}
PORT = 5353


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--names", type=int, default=100, help="container names served (100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--queries", type=int, default=2000, help="latency questions (2000)")
    parser.add_argument("--seconds", type=int, default=5, help="dnsperf run length (5)")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf clients (4)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output directory ({RESULTS})")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG chart")


def _names(n: int) -> list[Entry]:
    return [Entry(f"10.99.{i // 250}.{i % 250 + 1}", (f"c{i}",)) for i in range(n)]


def _start_ours(tmp: Path, entries: list[Entry]) -> int:
    (tmp / RECORDS).write_text(dump(entries))
    if not ensure_server(tmp, ADDRESS[OURS], [], port=PORT):
        raise RuntimeError(
            f"could not bind {ADDRESS[OURS]}:{PORT}: {(tmp / 'dns.log').read_text()}"
        )
    return _find_pid(str(tmp / RECORDS))


def _find_pid(needle: str) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    line = Path(f"/proc/{entry.name}/cmdline").read_bytes()
                except OSError:
                    continue
                if needle.encode() in line:
                    return int(entry.name)
        time.sleep(0.05)
    raise RuntimeError(f"no process with {needle} on its command line")


def _start_dnsmasq(tmp: Path, entries: list[Entry]) -> subprocess.Popen[bytes]:
    hosts = tmp / "hosts"
    hosts.write_text("".join(f"{e.ip} {' '.join(e.names)}\n" for e in entries))
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    return subprocess.Popen(
        [exe, "--keep-in-foreground", "--port", str(PORT), "--listen-address", ADDRESS[PEER],
         "--bind-interfaces", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
         "--pid-file=", "--user=root", "--cache-size=1000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _ready(address: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            _one(address, dns.message.make_query("c0", "A").to_wire(), 0.5)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{address}:{PORT} does not answer")


def _one(address: str, wire: bytes, timeout: float = 2.0) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, (address, PORT))
        return s.recv(4096)


def latency(address: str, n: int, names: int) -> tuple[float, float]:
    """p50 and p99 in microseconds, one question at a time."""
    wires = [dns.message.make_query(f"c{i % names}", "A").to_wire() for i in range(n)]
    samples = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        s.connect((address, PORT))
        for wire in wires:
            t = time.perf_counter_ns()
            s.send(wire)
            s.recv(4096)
            samples.append((time.perf_counter_ns() - t) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def rate(address: str, queries: Path, seconds: int, clients: int, pid: int) -> dict[str, float]:
    before = procfs.cpu_seconds(pid)
    done = subprocess.run(
        ["dnsperf", "-s", address, "-p", str(PORT), "-d", str(queries), "-l", str(seconds),
         "-c", str(clients), "-q", "200", "-t", "2"],
        capture_output=True, text=True, check=False, timeout=seconds + 30,
    )  # fmt: skip
    cpu = procfs.cpu_seconds(pid) - before
    qps = re.search(r"Queries per second:\s+([\d.]+)", done.stdout)
    avg = re.search(r"Average Latency \(s\):\s+([\d.]+)", done.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", done.stdout)
    completed = re.search(r"Queries completed:\s+(\d+)", done.stdout)
    if not (qps and avg and completed):
        raise RuntimeError(f"dnsperf said: {done.stdout}{done.stderr}")
    count = float(completed.group(1))
    return {
        "qps": float(qps.group(1)),
        "perf_avg_us": float(avg.group(1)) * 1e6,
        "lost": float(lost.group(1)) if lost else 0.0,
        "cpu_ms_per_1k": cpu * 1000 / count * 1000 if count else 0.0,
    }


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if not shutil.which("dnsperf") or not (
        shutil.which("dnsmasq") or Path("/usr/sbin/dnsmasq").exists()
    ):
        print(
            "python -m bench dns needs dnsperf and dnsmasq (apt: dnsperf dnsmasq-base)",
            file=sys.stderr,
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="pyb-dns-"))
    entries = _names(args.names)
    queries = tmp / "queries.txt"
    queries.write_text("".join(f"c{i} A\n" for i in range(args.names)))
    samples: dict[str, dict[str, list[float]]] = {OURS: {}, PEER: {}}
    peer = None
    try:
        ours_pid = _start_ours(tmp, entries)
        peer = _start_dnsmasq(tmp, entries)
        pids = {OURS: ours_pid, PEER: peer.pid}
        for target in (OURS, PEER):
            _ready(ADDRESS[target])
        for r in range(args.rounds):
            for target in (OURS, PEER) if r % 2 == 0 else (PEER, OURS):
                p50, p99 = latency(ADDRESS[target], args.queries, args.names)
                got = {"p50_us": p50, "p99_us": p99}
                got |= rate(ADDRESS[target], queries, args.seconds, args.clients, pids[target])
                for key, value in got.items():
                    samples[target].setdefault(key, []).append(value)
                print(f"round {r + 1}/{args.rounds} {target:13} p50 {p50:.0f} us  "
                      f"{got['qps']:.0f} q/s", file=sys.stderr)  # fmt: skip
        for target, pid in pids.items():
            rss, pss = procfs.smaps_rollup(pid)
            samples[target]["rss_mb"] = [rss / 1024]
            samples[target]["pss_mb"] = [pss / 1024]
    finally:
        (tmp / RECORDS).unlink(missing_ok=True)  # our server leaves within a second
        if peer is not None:
            peer.terminate()
            peer.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    medians = {t: {k: statistics.median(v) for k, v in s.items()} for t, s in samples.items()}
    meta = {"argv": argv, "names": args.names, "rounds": args.rounds, "queries": args.queries,
            "seconds": args.seconds, "clients": args.clients, "kernel": platform.release(),
            "cpus": os.cpu_count(), "python": platform.python_version()}  # fmt: skip
    doc: dict[str, Any] = {
        "meta": meta,
        "medians": medians,
        "samples": samples,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dns.json").write_text(json.dumps(doc, indent=1) + "\n")
    text = table(doc)
    (args.out / "dns.md").write_text("# python -m bench dns\n\n" + text + "\n\n" + __doc__ + "\n")
    if not args.no_charts:
        _chart(args.out, doc)
    print(text)
    return 0


ROWS = (
    ("p50_us", "latency p50, one at a time (us)"),
    ("p99_us", "latency p99 (us)"),
    ("qps", "queries per second (dnsperf)"),
    ("perf_avg_us", "dnsperf average latency (us)"),
    ("cpu_ms_per_1k", "server CPU per 1000 queries (ms)"),
    ("lost", "queries lost"),
    ("rss_mb", "RSS after the run (MB)"),
    ("pss_mb", "PSS after the run (MB)"),
)


def table(doc: dict[str, Any]) -> str:
    med = doc["medians"]
    meta = doc["meta"]
    lines = [
        f"{meta['names']} names, {meta['rounds']} rounds; dnsperf {meta['clients']} clients x "
        f"{meta['seconds']} s; {meta['queries']} sequential questions for the latency.",
        "",
        f"| metric | {OURS} | {PEER} | {OURS} / {PEER} |",
        "|---|---|---|---|",
    ]
    for key, label in ROWS:
        ours, peer = med[OURS].get(key), med[PEER].get(key)
        ratio = fmt_ratio(ours / peer) if ours is not None and peer else "-"
        cells = [fmt(v) if v is not None else "-" for v in (ours, peer)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines)


def _chart(out: Path, doc: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    med = doc["medians"]
    keys = ("p50_us", "qps", "cpu_ms_per_1k", "pss_mb")
    fig, axes = plt.subplots(1, len(keys), figsize=(12, 3))
    for ax, key in zip(axes, keys, strict=True):
        ax.bar([OURS, PEER], [med[OURS].get(key, 0), med[PEER].get(key, 0)], color=["C0", "C1"])
        ax.set_title(dict(ROWS)[key], fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "dns.png", dpi=100)
    plt.close(fig)
