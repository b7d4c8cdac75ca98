"""`docker ps` status text: `Up 3 minutes`, `Exited (137) 2 hours ago`, `Created`..."""

from dataclasses import dataclass

from engine.text import human_duration


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the status text is made of."""

    state: str  # created, running, paused, restarting, removing, exited, dead
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    health: str = ""  # starting, healthy, unhealthy; "" without a health check


def _health(status: str) -> str:
    if not status:
        return ""
    return " (health: starting)" if status == "starting" else f" ({status})"


def status_text(facts: StatusFacts, now: float) -> str:
    """The STATUS column of `ps` for a container in this state."""
    match facts.state:
        case "running":
            return f"Up {human_duration(now - facts.started_at)}{_health(facts.health)}"
        case "paused":
            return f"Up {human_duration(now - facts.started_at)} (Paused)"
        case "restarting":
            ago = human_duration(now - facts.finished_at)
            return f"Restarting ({facts.exit_code}) {ago} ago"
        case "removing":
            return "Removal In Progress"
        case "dead":
            return "Dead"
        case "exited":
            return f"Exited ({facts.exit_code}) {human_duration(now - facts.finished_at)} ago"
        case _:
            return "Created"
