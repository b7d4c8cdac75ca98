"""`docker ps` status text: `Up 3 minutes`, `Exited (137) 2 hours ago`, `Created`..."""

from dataclasses import dataclass


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, which Docker's CLI prints."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the status text is made of."""

    state: str  # created, running, paused, restarting, removing, exited, dead
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0


def status_text(facts: StatusFacts, now: float) -> str:
    """The STATUS column of `ps` for a container in this state."""
    match facts.state:
        case "running":
            return f"Up {human_duration(now - facts.started_at)}"
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
