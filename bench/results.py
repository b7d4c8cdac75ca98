"""Aggregation and the raw JSON: every sample of every measurement, plus the medians."""

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.runner import Measurement
from bench.scenarios import Metric, Scenario

Medians = dict[str, dict[str, float]]  # metric key -> target -> median


def samples(measurements: Sequence[Measurement]) -> dict[str, dict[str, list[float]]]:
    """metric key -> target -> every sample, in run order."""
    out: dict[str, dict[str, list[float]]] = {}
    for m in measurements:
        for key, values in m.values.items():
            out.setdefault(key, {}).setdefault(m.target, []).extend(values)
    return out


def medians(measurements: Sequence[Measurement]) -> Medians:
    return {
        key: {target: statistics.median(vals) for target, vals in per_target.items() if vals}
        for key, per_target in samples(measurements).items()
    }


def all_metrics(scenarios: Sequence[Scenario]) -> list[Metric]:
    return [m for s in scenarios for m in s.metrics]


def write_json(
    path: Path,
    meta: dict[str, Any],
    scenarios: Sequence[Scenario],
    targets: Sequence[str],
    measurements: Sequence[Measurement],
) -> None:
    doc = {
        "meta": meta,
        "targets": list(targets),
        "metrics": [asdict(m) for m in all_metrics(scenarios)],
        "medians": medians(measurements),
        "samples": samples(measurements),
        "measurements": [m.to_json() for m in measurements],
    }
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def load_json(path: Path) -> tuple[dict[str, Any], list[str], list[Measurement]]:
    """(meta, target names, measurements) back from a proxy.json written by write_json."""
    doc = json.loads(path.read_text())
    measurements = [Measurement(**m) for m in doc["measurements"]]
    return doc["meta"], list(doc["targets"]), measurements
