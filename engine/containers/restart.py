"""Restart policies and Docker's backoff (moby daemon/internal/restartmanager)."""

from dataclasses import dataclass

from engine.containers.errors import InvalidOptionError

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
# A run at least this long counts as healthy: the next delay starts from FIRST_DELAY again.
RESET_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """`--restart NAME[:MAX]`; max_retries 0 means unlimited (on-failure only)."""

    name: str = "no"
    max_retries: int = 0

    def __str__(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.max_retries else self.name

    def wants_restart(self, exit_code: int, restart_count: int, stopped_by_user: bool) -> bool:
        """Whether the policy restarts a container that just exited this way."""
        if stopped_by_user or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (self.max_retries == 0 or restart_count < self.max_retries)
        return True

    def on_engine_start(self, stopped_by_user: bool) -> bool:
        """Whether a stopped container comes back when the engine starts (Docker's daemon start)."""
        return self.name == "always" or (self.name == "unless-stopped" and not stopped_by_user)


def parse_restart(text: str) -> RestartPolicy:
    """Parse `--restart` with Docker's checks and messages."""
    name, sep, count_text = text.partition(":")
    if name not in POLICIES:
        raise InvalidOptionError(f"invalid restart policy: unknown policy '{name}'")
    if not sep:
        return RestartPolicy(name)
    if name != "on-failure":
        raise InvalidOptionError(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    try:
        count = int(count_text, 10)
    except ValueError:
        raise InvalidOptionError(
            f"invalid restart policy format: maximum retry count must be an integer: {count_text}"
        ) from None
    if count < 0:
        raise InvalidOptionError("invalid restart policy: maximum retry count cannot be negative")
    return RestartPolicy(name, count)


def next_delay(previous: float, ran_for: float) -> float:
    """The wait before the next restart: doubling from 100 ms, capped at a minute."""
    if previous <= 0 or ran_for >= RESET_AFTER:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
