"""Docker's text helpers shared by `ps` and `images`: go-units durations, tabwriter columns."""

from collections.abc import Sequence


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


def table(rows: Sequence[Sequence[str]]) -> str:
    """Go's tabwriter as docker sets it up (minwidth 10, padding 3); the last column free."""
    if not rows:
        return ""
    widths = [max(10, max(len(r[c]) for r in rows) + 3) for c in range(len(rows[0]) - 1)]
    return "".join(
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[-1] + "\n"
        for row in rows
    )
