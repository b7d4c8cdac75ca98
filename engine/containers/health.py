"""Health checks as `create`/`run` and an image's HEALTHCHECK give them (Docker's Config
.Healthcheck): the test (`["CMD-SHELL", cmd]`, `["CMD", arg...]`, `["NONE"]`), Go durations for
the timings; the flags override the image field by field, as Docker merges them."""

import re
from dataclasses import dataclass

from engine.containers.errors import InvalidOptionError

DEFAULT_INTERVAL = DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """Docker's HealthConfig; zero timings and retries mean the defaults."""

    test: tuple[str, ...] = ()
    interval: float = 0.0
    timeout: float = 0.0
    start_period: float = 0.0
    retries: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.test) and self.test[0] != "NONE"

    def command(self) -> tuple[str, ...]:
        kind, *rest = self.test
        return ("/bin/sh", "-c", " ".join(rest)) if kind == "CMD-SHELL" else tuple(rest)

    def to_docker(self) -> dict[str, object]:
        """Config.Healthcheck: durations in nanoseconds."""
        return {"Test": list(self.test), "Interval": int(self.interval * 1e9),
                "Timeout": int(self.timeout * 1e9), "StartPeriod": int(self.start_period * 1e9),
                "Retries": self.retries}  # fmt: skip


def parse_duration(text: str, flag: str) -> float:
    """A Go duration (`30s`, `1m30s`, `500ms`) in seconds; Docker's refusal otherwise."""
    if not text:
        return 0.0
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or text == "0":
        if text == "0":
            return 0.0
        raise InvalidOptionError(
            f'invalid argument "{text}" for "{flag}" flag: time: invalid duration "{text}"'
        )
    return total


def from_docker(data: object) -> Healthcheck:
    """An image config's or an API body's Healthcheck (nanoseconds); empty if absent."""
    if not isinstance(data, dict):
        return Healthcheck()
    test = data.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidOptionError("invalid Healthcheck.Test: expected a list of strings")
    return Healthcheck(
        tuple(test),
        int(data.get("Interval") or 0) / 1e9,
        int(data.get("Timeout") or 0) / 1e9,
        int(data.get("StartPeriod") or 0) / 1e9,
        int(data.get("Retries") or 0),
    )


def merge(
    image: Healthcheck,
    *,
    cmd: str = "",
    interval: str = "",
    timeout: str = "",
    start_period: str = "",
    retries: int = 0,
    disabled: bool = False,
    given: Healthcheck | None = None,
) -> Healthcheck:
    """The container's check: the image's, with each flag given taking over its field."""
    if disabled and cmd:
        raise InvalidOptionError("--no-healthcheck conflicts with --health-* options")
    if disabled:
        return Healthcheck(("NONE",))
    base = given if given is not None and given.test else image
    if retries < 0:
        raise InvalidOptionError("--health-retries cannot be negative")
    durations = {
        "interval": parse_duration(interval, "--health-interval"),
        "timeout": parse_duration(timeout, "--health-timeout"),
        "start_period": parse_duration(start_period, "--health-start-period"),
    }
    for name, value in durations.items():
        if value and value < 0.001:
            raise InvalidOptionError(f"--health-{name.replace('_', '-')} cannot be less than 1ms")
    return Healthcheck(
        ("CMD-SHELL", cmd) if cmd else base.test,
        durations["interval"] or base.interval,
        durations["timeout"] or base.timeout,
        durations["start_period"] or base.start_period,
        retries or base.retries,
    )
