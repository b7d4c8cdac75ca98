"""The markdown table of the engine bench, with ratios against the Go shim and bare runc."""

from typing import Any

from bench.engine.apiserver import api_section
from bench.engine.report_versus import many_section, ports_section, run_section

GO_SHIM = "containerd-shim-runc-v2"


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def render(meta: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [
        f"# python -m bench engine ({meta['date']})",
        "",
        f"`{meta['command']}` on {meta['cpus']} CPUs, kernel {meta['kernel']}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
    ]
    if "wall_s" in meta:
        lines += [
            f"Wall time {meta['wall_s']:.0f} s; load average before {meta['load_before']}, "
            f"after {meta['load_after']} (a shared 2-CPU machine: other runs add noise).",
            "",
        ]
    if meta.get("interrupted"):
        lines += ["**Interrupted**: partial results.", ""]
    if meta.get("docker_error"):
        lines += [f"Docker peer skipped: {meta['docker_error']}", ""]
    mem = results.get("memory")
    if mem:
        base = mem.get(GO_SHIM, {})
        lines += [
            "## Shim memory per container (median over shims)",
            "",
            "| target | shims | RSS MB | PSS MB | PSS anon MB | RSS vs Go shim | PSS vs Go shim |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, m in mem.items():
            lines.append(
                f"| {name} | {m['processes']} | {m['rss_mb']:.1f} | {m['pss_mb']:.1f} | "
                f"{m['pss_anon_mb']:.1f} | {_ratio(m['rss_mb'], base.get('rss_mb'))} | "
                f"{_ratio(m['pss_mb'], base.get('pss_mb'))} |"
            )
        lines.append("")
    life = results.get("lifecycle")
    if life:
        base = life.get("runc run", {}).get("median_ms")
        lines += [
            "## create + start + exit + delete of `true`",
            "",
            "| target | median ms | p90 ms | runs | median vs `runc run` |",
            "|---|---|---|---|---|",
        ]
        for name, m in life.items():
            lines.append(
                f"| {name} | {m['median_ms']:.1f} | {m['p90_ms']:.1f} | {m['runs']} | "
                f"{_ratio(m['median_ms'], base)} |"
            )
        lines.append("")
    sections = (("run", run_section), ("ports", ports_section), ("many", many_section),
                ("api", api_section))  # fmt: skip
    for name, section in sections:
        if results.get(name):
            lines += section(results[name])
    if meta.get("cleanup_notes"):
        lines += ["## Cleanup notes", "", *(f"- {n}" for n in meta["cleanup_notes"]), ""]
    return "\n".join(lines)
