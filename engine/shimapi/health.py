"""The health check contract between the engine and a container's shim, which runs the checks
(so they go on without any engine process): the check as the engine asks for it, and
`health.json` in the shim's state directory, Docker's `State.Health` as the shim keeps it."""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

LOG_ENTRIES = 5  # Docker keeps the last five results
OUTPUT_LIMIT = 4096  # and the first 4 KiB of each check's output
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """What to run and when: `process` is an exec's OCI process object; seconds throughout."""

    process: dict[str, Any]
    interval: float = 30.0
    timeout: float = 30.0
    start_period: float = 0.0
    retries: int = 3

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "HealthCheck":
        return cls(
            dict(data["process"]),
            float(data.get("interval", 30.0)),
            float(data.get("timeout", 30.0)),
            float(data.get("start_period", 0.0)),
            int(data.get("retries", 3)),
        )


@dataclass(slots=True)
class HealthState:
    status: str = STARTING
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def to_docker(self) -> dict[str, Any]:
        """Docker's `State.Health`."""
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": self.log}


def write_health(path: str, state: HealthState) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(state.to_docker()))
    os.replace(tmp, path)


def read_health(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
