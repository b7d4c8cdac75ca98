"""Markdown for the issue-6 scenarios: pyengine against Docker 20.10 (and bare `runc run`)."""

from typing import Any

TARGETS = {"run": 0.33, "ports_time": 0.25, "ports_memory": 0.1}


def _x(value: float, base: float | None) -> str:
    if not base:
        return "-"
    ratio = value / base
    return f"{ratio:.2f}x" if ratio >= 0.01 else f"{ratio:.3f}x"


def _verdict(what: str, value: float, base: float | None, target: float) -> str:
    if not base:
        return f"- {what}: no Docker figure to compare with"
    word = "met" if value / base <= target else "MISSED"
    return f"- {what}: {_x(value, base)} Docker (target <= {target}x): **{word}**"


def _errors(section: dict[str, Any]) -> list[str]:
    return [f"- **{name} failed**: `{msg}`" for name, msg in section.get("errors", {}).items()]


def run_section(res: dict[str, Any]) -> list[str]:
    rows = {k: v for k, v in res.items() if k != "errors"}
    docker = rows.get("docker run --rm", {}).get("median_ms")
    runc = rows.get("runc run", {}).get("median_ms")
    lines = [
        "## `run --rm busybox true`",
        "",
        "| target | median ms | p90 ms | runs | vs docker | vs `runc run` |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        lines.append(
            f"| {name} | {m['median_ms']:.1f} | {m['p90_ms']:.1f} | {m['runs']} | "
            f"{_x(m['median_ms'], docker)} | {_x(m['median_ms'], runc)} |"
        )
    lines.append("")
    if "pyengine run --rm" in rows:
        ours = rows["pyengine run --rm"]["median_ms"]
        lines.append(_verdict("pyengine run --rm", ours, docker, TARGETS["run"]))
    return [*lines, *_errors(res), ""]


def _once(m: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {v['pss_mb']:.1f} MB PSS / {v['rss_mb']:.1f} MB RSS"
        for name, v in m.get("once", {}).items()
    )


def ports_section(res: dict[str, Any]) -> list[str]:
    n = res.get("ports", 0)
    py, dk = res.get("pyengine"), res.get("docker")
    lines = [
        f"## `run -d -p` with {n} published ports (median over rounds)",
        "",
        "| engine | run -d ms | ready ms | rm -f ms | processes | PSS MB | RSS MB | "
        "shim PSS | proxies PSS | ready vs docker | rm vs docker | PSS vs docker |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in (("pyengine", py), ("docker", dk)):
        if not m:
            continue
        lines.append(
            f"| {name} | {m['run_ms']:.0f} | {m['ready_ms']:.0f} | {m['rm_ms']:.0f} | "
            f"{m['processes']:.0f} | {m['pss_mb']:.1f} | {m['rss_mb']:.1f} | "
            f"{m['shim_pss_mb']:.1f} | {m['proxy_pss_mb']:.1f} | "
            f"{_x(m['ready_ms'], dk and dk['ready_ms'])} | {_x(m['rm_ms'], dk and dk['rm_ms'])} "
            f"| {_x(m['pss_mb'], dk and dk['pss_mb'])} |"
        )
    lines.append("")
    for name, m in (("pyengine", py), ("docker", dk)):
        if m:
            lines.append(f"- once per host, not in the rows above ({name}): {_once(m)}")
    if py:
        once = py.get("once", {}).values()
        with_once = py["pss_mb"] + sum(v["pss_mb"] for v in once)
        rss_total = py["rss_mb"] + sum(v["rss_mb"] for v in once)
        lines.append(
            f"- pyengine with its once-per-host processes counted once: {with_once:.1f} MB "
            f"PSS, {rss_total:.1f} MB RSS"
        )
        base = dk or {}
        lines.append(_verdict("time to ready", py["ready_ms"], base.get("ready_ms"), 0.25))
        lines.append(_verdict("time to remove", py["rm_ms"], base.get("rm_ms"), 0.25))
        target = TARGETS["ports_memory"]
        lines.append(_verdict("PSS, once-per-host included", with_once, base.get("pss_mb"), target))
        lines.append(_verdict("RSS, once-per-host included", rss_total, base.get("rss_mb"), target))
        if not py.get("http_ok", True) or (dk and not dk.get("http_ok", True)):
            lines.append("- an HTTP request through the first port failed (see the JSON)")
    return [*lines, *_errors(res), ""]


def _with_once(m: dict[str, Any], n: int) -> str:
    pss = m["pss_mb"] + sum(v["pss_mb"] for v in m.get("once", {}).values())
    rss = m["rss_mb"] + sum(v["rss_mb"] for v in m.get("once", {}).values())
    return f"{pss:.1f} MB PSS, {rss:.1f} MB RSS ({pss / n:.2f} / {rss / n:.2f} per container)"


def many_section(res: dict[str, Any]) -> list[str]:
    n = res.get("containers", 0)
    py, dk = res.get("pyengine"), res.get("docker")
    lines = [
        f"## {n} running containers, one published port each",
        "",
        "| engine | shims | proxies | PSS MB | RSS MB | PSS / container | RSS / container | "
        "shim PSS / ctr | proxy PSS / ctr | start all s | rm -f all s | PSS vs docker |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in (("pyengine", py), ("docker", dk)):
        if not m:
            continue
        lines.append(
            f"| {name} | {m['shims']} | {m['proxies']} | {m['pss_mb']:.1f} | {m['rss_mb']:.1f} "
            f"| {m['pss_per_container_mb']:.2f} | {m['rss_per_container_mb']:.2f} | "
            f"{m['shim_pss_mb'] / n:.2f} | {m['proxy_pss_mb'] / n:.2f} | {m['start_s']:.1f} | "
            f"{m['rm_s']:.1f} | {_x(m['pss_mb'], dk and dk['pss_mb'])} |"
        )
    lines.append("")
    for name, m in (("pyengine", py), ("docker", dk)):
        if m:
            lines.append(f"- once per host, not in the rows above ({name}): {_once(m)}")
    for name, m in (("pyengine", py), ("docker", dk)):
        if m and n:
            lines.append(f"- {name} with its once-per-host processes: {_with_once(m, n)}")
    return [*lines, *_errors(res), ""]
