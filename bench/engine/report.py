"""The markdown table of the engine bench, with ratios against the Go shim and bare runc."""

from typing import Any

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
    return "\n".join(lines)
