"""Docker's text for `docker images`: go-units sizes and durations, tabwriter columns."""

from collections.abc import Sequence
from datetime import UTC, datetime

from engine.images.model import Image
from engine.text import human_duration, table

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
NONE = "<none>"

__all__ = ["created_ago", "human_duration", "human_size", "image_rows", "table"]


def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): `4.26MB`, `745kB`, `0B`."""
    unit = 0
    while size >= 1000 and unit < len(_DECIMAL) - 1:
        size /= 1000
        unit += 1
    return f"{size:.3g}{_DECIMAL[unit]}"


def created_ago(when: datetime | None, now: datetime | None = None) -> str:
    """The CREATED column: `2 weeks ago`, or `N/A` when the image does not say."""
    if when is None:
        return "N/A"
    now = now or datetime.now(UTC)
    return human_duration((now - when).total_seconds()) + " ago"


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
