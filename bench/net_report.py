"""network.md (medians, ratios to the reference) and network.png for `python -m bench network`."""

from pathlib import Path
from typing import Any

from bench.report import fmt, fmt_ratio

BASE = "cni-bridge"
OURS = ("pyplumb", "pybridge", "pybridge-warm")  # each gets a ratio column against BASE
SHORT = {
    "add_ms": "ADD\nper call",
    "del_ms": "DEL\nper call",
    "version_ms": "VERSION\n(start-up)",
    "teardown_serial_ms": "teardown N\none by one",
    "teardown_batch_ms": "teardown N\nat once",
    "publish_ms": "publish\nports",
    "unpublish_ms": "unpublish\nports",
}
ROWS = (
    ("add_ms", "endpoint ADD, per call (ms)"),
    ("del_ms", "endpoint DEL, per call (ms)"),
    ("version_ms", "VERSION, per call: start-up alone (ms)"),
    ("teardown_serial_ms", "tear down N endpoints one by one (ms)"),
    ("teardown_batch_ms", "tear down N endpoints at once (ms)"),
    ("publish_ms", "publish P ports (ms; portmap: fewer, see above)"),
    ("unpublish_ms", "unpublish P ports (ms; portmap: fewer)"),
)


def table(doc: dict[str, Any]) -> str:
    med: dict[str, dict[str, float]] = doc["medians"]
    targets = list(med)
    meta = doc["meta"]
    lines = [
        f"N = {meta['teardown']} endpoints for teardowns, P = {meta['ports']} ports for pyplumb "
        f"and {meta.get('portmap_ports', meta['ports'])} for the reference portmap; "
        f"{meta['endpoints']} endpoints x {meta['rounds']} rounds for ADD/DEL.",
        "",
        "| metric | "
        + " | ".join(targets)
        + " | "
        + " | ".join(f"{t} / {BASE}" for t in OURS)
        + " |",
        "|---|" + "---|" * (len(targets) + len(OURS)),
    ]
    for key, label in ROWS:
        cells = [fmt(med[t][key]) if key in med[t] else "-" for t in targets]
        base = med[BASE].get(key)
        for target in OURS:
            ours = med.get(target, {}).get(key)
            cells.append(fmt_ratio(ours / base) if base and ours else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    serial = med["pyplumb"].get("teardown_serial_ms")
    batch = med["pyplumb"].get("teardown_batch_ms")
    blank = " |" * (len(targets) + len(OURS) - 2)
    if serial and batch:
        lines.append(f"| pyplumb batch vs one by one | | {fmt_ratio(batch / serial)} |{blank}")
    rule_keys = sorted({k for t in targets for k in med[t] if k.startswith("rules_")})
    for key in rule_keys:
        cells = [fmt(med[t][key]) if key in med[t] else "-" for t in targets]
        label = key.replace("rules_", "firewall rules with ").replace("_", " ")
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + " |" * len(OURS))
    return "\n".join(lines)


def write_report(out: Path, doc: dict[str, Any], *, charts: bool = True) -> str:
    text = table(doc)
    notes = [f"- {t}: {n}" for t, ns in doc["notes"].items() for n in ns]
    body = [
        "# python -m bench network",
        "",
        text,
        "",
        "Method: the harness enters a scratch `pyb…h` namespace; every endpoint gets a fresh "
        "namespace. cni-bridge and pybridge are exec'd per call with the spec's anchor "
        "configuration (bridge + host-local, isGateway, isDefaultGateway, hairpinMode, no "
        "ipMasq); pyplumb is `bridge.Driver` in-process, with its nftables table in place. "
        "Teardown: pyplumb one by one = N remove_endpoint calls, at once = remove_endpoints "
        "(one nft transaction, one grouped RTM_DELLINK); cni-bridge has only N DELs. Ports: "
        "pyplumb publishes P ports on one endpoint in one transaction; cni-bridge column = the "
        "reference portmap plugin (iptables-nft) given P portMappings; rule counts are nft rules "
        "of our table vs `-A CNI-` lines of iptables-save.",
        *(["", "Notes:", *notes] if notes else []),
        "",
    ]
    (out / "network.md").write_text("\n".join(body))
    if charts:
        _chart(out, doc)
    return text


def _chart(out: Path, doc: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    med = doc["medians"]
    keys = [(k, label) for k, label in ROWS if any(k in med[t] for t in med)]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(med)
    for i, target in enumerate(med):
        xs = [
            j + (i - (len(med) - 1) / 2) * width
            for j, (k, _l) in enumerate(keys)
            if k in med[target]
        ]
        ys = [med[target][k] for k, _l in keys if k in med[target]]
        bars = ax.bar(xs, ys, width, label=target)
        ax.bar_label(bars, labels=[fmt(y) for y in ys], fontsize=7, padding=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([SHORT[k] for k, _label in keys], fontsize=8)
    ax.set_ylabel("milliseconds (median, log scale; lower is better)")
    ax.set_title("pyplumb bridge driver vs the reference CNI plugins")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "network.png", dpi=110)
    plt.close(fig)
