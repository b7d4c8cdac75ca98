"""PNG charts: one per metric family, each target's median as a ratio to docker-proxy."""

from collections.abc import Sequence
from pathlib import Path

from bench.results import Medians
from bench.scenarios import Metric
from bench.targets import ALL_TARGETS, BASELINE

# In ALL_TARGETS order: the pyproxy modes in blues and greens, then docker-proxy, socat, haproxy,
# direct.
_PALETTE = (
    *("#1f77b4", "#6baed6", "#2ca02c", "#98df8a", "#17becf"),
    *("#7f7f7f", "#ff7f0e", "#d62728", "#9467bd"),
)


def _color(target: str) -> str:
    names = [t.name for t in ALL_TARGETS]
    return _PALETTE[names.index(target) % len(_PALETTE)] if target in names else "#333333"


FAMILIES = {
    "throughput": "Throughput",
    "cpu": "Proxy CPU cost (per GB moved, per request)",
    "latency": "Ping-pong round trip",
    "rate": "Request and connection rates",
    "memory": "Memory (PSS)",
    "startup": "Spawn to ready",
    "range": "Publishing a 1001-port range",
}


def render(
    out_dir: Path, prefix: str, metrics: Sequence[Metric], med: Medians, targets: Sequence[str]
) -> list[str]:
    """Write <prefix>-<family>.png for every family with data; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    written = []
    for family, title in FAMILIES.items():
        fam = [m for m in metrics if m.family == family and med.get(m.key, {}).get(BASELINE)]
        shown = [t for t in targets if t != BASELINE and any(t in med[m.key] for m in fam)]
        if not fam or not shown:
            continue
        fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(fam) * len(shown) / 3 + 3), 4.2))
        width = 0.8 / len(shown)
        ratios: list[float] = []
        for i, target in enumerate(shown):
            xs, ys = [], []
            for j, m in enumerate(fam):
                value = med[m.key].get(target)
                if value is None:
                    continue
                xs.append(j + (i - (len(shown) - 1) / 2) * width)
                ys.append(value / med[m.key][BASELINE])
            ratios += ys
            bars = ax.bar(xs, ys, width, label=target, color=_color(target))
            ax.bar_label(bars, labels=[f"{y:.2g}" for y in ys], fontsize=7, padding=1)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        positive = [r for r in [*ratios, 1.0] if r > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(fam)))
        ax.set_xticklabels([f"{m.label}\n({m.better} is better)" for m in fam], fontsize=8)
        ax.set_ylabel(f"ratio to {BASELINE} (= 1, dashed)")
        ax.set_title(title)
        ax.legend(fontsize=7, ncol=min(4, len(shown)))
        fig.tight_layout()
        path = out_dir / f"{prefix}-{family}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    return written
