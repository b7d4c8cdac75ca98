"""Docker's text for `docker images`: go-units sizes and durations, tabwriter columns."""

from collections.abc import Sequence
from datetime import UTC, datetime

from engine.images.model import Image

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
NONE = "<none>"


def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): `4.26MB`, `745kB`, `0B`."""
    unit = 0
    while size >= 1000 and unit < len(_DECIMAL) - 1:
        size /= 1000
        unit += 1
    return f"{size:.3g}{_DECIMAL[unit]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: `Less than a second`, `About an hour`, `2 weeks`."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
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
    return f"{int(seconds / 3600) // 24 // 365} years"


def created_ago(when: datetime | None, now: datetime | None = None) -> str:
    """The CREATED column: `2 weeks ago`, or `N/A` when the image does not say."""
    if when is None:
        return "N/A"
    now = now or datetime.now(UTC)
    return human_duration((now - when).total_seconds()) + " ago"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Go's tabwriter as docker sets it up (minwidth 10, padding 3); the last column free."""
    if not rows:
        return ""
    widths = [max(10, max(len(r[c]) for r in rows) + 3) for c in range(len(rows[0]) - 1)]
    return "".join(
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[-1] + "\n"
        for row in rows
    )


def image_rows(
    images: Sequence[Image], *, no_trunc: bool = False, now: datetime | None = None
) -> list[list[str]]:
    """One row per tag (or one `<none> <none>` row for an untagged image), header first."""
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]
    for image in images:
        shown = image.id if no_trunc else image.short_id
        tail = [shown, created_ago(image.created, now), human_size(image.size)]
        if not image.tags:
            rows.append([NONE, NONE, *tail])
        for tag in image.tags:
            repository, _, name = tag.rpartition(":")
            rows.append([repository, name, *tail])
    return rows
