"""The markdown report: medians per metric and target, with the ratio against docker-proxy."""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.context import Settings
from bench.results import all_metrics, medians, samples
from bench.runner import BUSY_PCT, Measurement
from bench.scenarios import Scenario
from bench.targets import BASELINE


def fmt(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def fmt_ratio(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:.0f}x"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _failures(
    scenarios: Sequence[Scenario], measurements: Sequence[Measurement]
) -> set[tuple[str, str]]:
    """(metric key, target) pairs with an error in some round ("*": the whole measurement)."""
    keys = {s.name: [m.key for m in s.metrics] for s in scenarios}
    failed = set()
    for m in measurements:
        for key in m.errors:
            for k in keys.get(m.scenario, []) if key == "*" else [key]:
                failed.add((k, m.target))
    return failed


def _methods(s: Settings) -> list[str]:
    conns = " and ".join(str(n) for n in s.mem_conns)
    return [
        f"**startup**: spawn (os.posix_spawn, pipe on fd 3 via POSIX_SPAWN_DUP2) to `0\\n`, "
        f"{s.startup_spawns} spawns per round.",
        f"**memory**: RSS/PSS from /proc/<pid>/smaps_rollup, summed over the process tree "
        f"(socat forks per connection), idle and holding {conns} concurrent TCP connections "
        "(each verified by a 1-byte echo). 9000, not 10000: a relayed connection costs the "
        "proxy at least 2 fds and the hard RLIMIT_NOFILE is 20000; docker-proxy (go1.19) also "
        "keeps 2 splice pipes per connection (6 fds), so it runs out near 3330 and exits.",
        f"**pingpong**: one connection, 64 bytes each way, {s.pingpong_count} timed round trips "
        f"after {s.pingpong_warmup} warm-up; the harness's own Python client and a Python epoll "
        "echo server in the namespace (the same for every target).",
        f"**udp-rr**: {s.udp_rr_sockets} connected UDP sockets with {s.udp_rr_window} 64-byte "
        f"requests in flight each, {s.udp_rr_seconds:g}s, against a Python UDP echo.",
        f"**http**: `wrk -t1 -c{s.wrk_connections}` for {s.http_seconds:g}s, keep-alive, against "
        "HAProxy answering `200 ok` itself (`http-request return`) in the namespace.",
        f"**connrate**: the same with `-H 'Connection: close'` for {s.connrate_seconds:g}s: "
        "every request is a new TCP connection through the proxy.",
        f"**bulk**: one iperf3 TCP stream, {s.bulk_seconds:g}s; CPU = utime+stime (+ reaped "
        "children) of the proxy's process tree from /proc/<pid>/stat, per GB received.",
        f"**udp-bulk**: `iperf3 -u -b 0 -l {s.udp_datagram}` for {s.udp_bulk_seconds:g}s through "
        "a TCP+UDP mapping of one port (docker-proxy and pyproxy-shared: one invocation per proto; "
        "pyproxy: one process, with -map); "
        "the rate is what the server received.",
        f"**range**: {s.range_ports} ports on 0.0.0.0 and [::]: docker-proxy as dockerd starts "
        f"it ({2 * s.range_ports} processes, one after another, each waited for), pyproxy as one "
        "process with two `-map` ranges, pyproxy-shared like docker-proxy (plus its hub); then "
        "all stopped with SIGINT and checked gone.",
    ]


def render(
    *,
    meta: dict[str, Any],
    scenarios: Sequence[Scenario],
    targets: Sequence[str],
    measurements: Sequence[Measurement],
    settings: Settings,
    charts: Sequence[str],
) -> str:
    med = medians(measurements)
    counts = samples(measurements)
    failed = _failures(scenarios, measurements)
    shown = [t for t in targets if any(t in per for per in med.values())]
    lines = ["# pyproxy benchmark: pyproxy vs docker-proxy, socat, HAProxy, direct", ""]
    v = meta["versions"]
    lines += [
        f"- command: `{meta['command']}`, wall time {meta.get('wall', '?')}"
        + (" (**interrupted: partial results**)" if meta.get("interrupted") else ""),
        f"- date {meta.get('date', '?')}; {meta['cpus']} CPUs, kernel {meta['kernel']}, "
        f"Python {v['python']}",
        f"- test bed: {meta['testbed']}; proxies listen on 127.0.0.1 and relay to the namespace",
        f"- pyproxy {v['pyproxy']}, docker-proxy {v['docker-proxy']}, socat {v['socat']}, "
        f"HAProxy {v['haproxy']} (TCP mode, nbthread {settings.haproxy_threads}, "
        f"option splice-auto), iperf3 {v['iperf3']}, wrk {v['wrk']}",
        f"- every cell is the median of {settings.rounds} round(s) (targets interleaved round "
        f"after round); in parentheses: the ratio to {BASELINE}; `-` = not applicable",
        "- pyproxy = auto relay on our epoll loop, standalone (the default); -splice = "
        "`-relay splice`; -copy = `-relay copy`; -uvloop = `-loop uvloop`; -asyncio = "
        "`-loop asyncio`; -shared = `PYPROXY_MODE=shared` (one invocation per port "
        "and proto, as dockerd starts them, each handing its port to one hub process; the hub "
        "is counted with the invocations)",
        "",
        "| metric | unit | better | " + " | ".join(shown) + " |",
        "|---|---|---|" + "---:|" * len(shown),
    ]
    for metric in all_metrics(scenarios):
        per = med.get(metric.key, {})
        if not per and not any(key == metric.key for key, _ in failed):
            continue
        base = per.get(BASELINE)
        cells = []
        for t in shown:
            if t not in per:
                cells.append("**failed**" if (metric.key, t) in failed else "-")
                continue
            cell = fmt(per[t])
            if base and t != BASELINE and metric.key != "udp_loss_pct":
                cell += f" ({fmt_ratio(per[t] / base)})"
            n = len(counts[metric.key][t])
            if metric.key.startswith("startup") or n < settings.rounds:
                cell += f" <sub>n={n}</sub>"
            cells.append(cell)
        lines.append(
            f"| {metric.label} | {metric.unit} | {metric.better} | " + " | ".join(cells) + " |"
        )
    problems = [
        f"- round {m.round} {m.scenario} / {m.target}: {key}: {err}"
        for m in measurements
        for key, err in m.errors.items()
    ]
    notes = sorted(
        {f"- {m.scenario} / {m.target}: {note}" for m in measurements for note in m.notes}
    )
    busy = [m for m in measurements if m.busy_before_pct > BUSY_PCT]
    if busy:
        worst = max(m.busy_before_pct for m in busy)
        lines[2:2] = [
            f"> **Noisy machine**: before {len(busy)} of {len(measurements)} measurements, other "
            f"processes were using more than {BUSY_PCT:.0f}% of the CPUs (up to {worst:.0f}%). "
            "Per-measurement values are in `busy_before_pct` in proxy.json.",
            "",
        ]
    if problems:
        lines += ["", "## Errors", "", *problems]
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", "## Method", "", *(f"- {line}" for line in _methods(settings))]
    if charts:
        lines += ["", "## Charts (ratio to docker-proxy)", ""]
        lines += [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"
