"""PNG charts of the engine bench: each target as a ratio to its peer (Go shim, `runc run`,
Docker for the issue-6 scenarios)."""

from pathlib import Path
from typing import Any

from bench.engine.charts_versus import panels as versus_panels

GO_SHIM = "containerd-shim-runc-v2"


def render(out_dir: Path, results: dict[str, Any]) -> list[str]:
    """Write engine-memory.png and engine-lifecycle.png for the scenarios that ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    panels: list[tuple[str, str, dict[str, tuple[float, ...]], tuple[str, ...]]] = []
    mem = results.get("memory") or {}
    if GO_SHIM in mem:
        base = mem[GO_SHIM]
        panels.append(
            (
                "memory",
                "Shim memory per container vs containerd-shim-runc-v2",
                {
                    n: (m["rss_mb"] / base["rss_mb"], m["pss_mb"] / base["pss_mb"])
                    for n, m in mem.items()
                    if n != GO_SHIM
                },
                ("RSS", "PSS"),
            )
        )
    life = results.get("lifecycle") or {}
    if "runc run" in life:
        base_ms = life["runc run"]["median_ms"]
        panels.append(
            (
                "lifecycle",
                "create+start+exit+delete of true vs `runc run`",
                {n: (m["median_ms"] / base_ms,) for n, m in life.items() if n != "runc run"},
                ("median",),
            )
        )
    panels += versus_panels(results)
    for name, title, ratios, series in panels:
        fig, ax = plt.subplots(figsize=(8, 0.6 * len(ratios) + 1.6))
        labels = list(ratios)
        height = 0.8 / len(series)
        for k, label in enumerate(series):
            ys = [i + (k - (len(series) - 1) / 2) * height for i in range(len(labels))]
            ax.barh(ys, [ratios[n][k] for n in labels], height=height, label=label)
        ax.axvline(1.0, color="#333333", linewidth=1)
        values = [1.0] + [v for r in ratios.values() for v in r if v > 0]
        if values and max(values) / min(values) > 20:
            ax.set_xscale("log")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("ratio (lower is better; 1.0 = the peer)")
        ax.set_title(title)
        if len(series) > 1:
            ax.legend()
        fig.tight_layout()
        path = out_dir / f"engine-{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    return written
