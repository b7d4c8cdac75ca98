"""What a scenario is: named metrics, which targets it applies to, and one measurement."""

from dataclasses import dataclass, field
from typing import Literal

from bench.context import Context, Settings
from bench.targets import Target

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: Better
    family: str  # one chart per family


@dataclass
class Outcome:
    """One measurement: samples per metric key, per-metric errors, free-form notes."""

    values: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)


class Scenario:
    name = ""
    title = ""
    metrics: tuple[Metric, ...] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def applies(self, target: Target) -> bool:
        return True

    def rounds(self) -> int:
        return self.settings.rounds

    def estimate(self, target: Target) -> float:
        """Expected seconds for one measurement (for the ETA)."""
        return 1.0

    def measure(self, ctx: Context, target: Target) -> Outcome:
        raise NotImplementedError
