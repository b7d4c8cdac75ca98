"""Reading a json-file log as `docker logs` does: rotated files in order, --tail, --since,
--until and -t timestamps. The shim writes these files; the engine only reads them."""

import datetime
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine.containers.errors import InvalidOptionError

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNIX = re.compile(r"^\d+(?:\.\d{1,9})?$")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One json-file line: the text (newline kept), its stream and its time."""

    text: str
    stream: str
    time: str
    seconds: float


def parse_time_arg(text: str, now: float) -> float:
    """--since/--until: a Go duration before now, Unix seconds, or an RFC 3339 date/time."""
    if _UNIX.match(text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        return now - sum(float(n) * _UNITS[u] for n, u in parts)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidOptionError(
            f'invalid value for "since"/"until": failed to parse value as time or duration: '
            f'"{text}"'
        ) from None
    return moment.timestamp()


def parse_log_time(text: str) -> float:
    """A json-file `time` (RFC3339Nano, UTC) as Unix seconds; fractions past µs are dropped."""
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.UTC).timestamp()
    return stamp + (float("0." + frac) if frac else 0.0)


def fixed_nano(text: str) -> str:
    """A json-file time padded to Docker's fixed RFC3339Nano (nine fraction digits)."""
    head, _, frac = text.rstrip("Z").partition(".")
    return f"{head}.{frac[:9].ljust(9, '0')}Z"


def log_files(path: Path) -> list[Path]:
    """The current log and its rotations (`.1`, `.2.gz`...), oldest first."""
    rotated = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :].removesuffix(".gz")
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    ordered = [p for _, p in sorted(rotated, reverse=True)]
    return ordered + ([path] if path.exists() else [])


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        import gzip  # noqa: PLC0415 - only compressed rotations need it; keeps `run` fast

        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def parse_lines(lines: Iterable[str]) -> Iterator[LogEntry]:
    """Entries from json-file lines; a torn last line (a write in progress) is skipped."""
    for line in lines:
        try:
            raw = json.loads(line)
            yield LogEntry(raw["log"], raw["stream"], raw["time"], parse_log_time(raw["time"]))
        except (ValueError, KeyError, TypeError):
            continue


def read_entries(
    path: Path, *, tail: int = -1, since: float = 0.0, until: float = 0.0
) -> list[LogEntry]:
    """What `docker logs` prints: all entries, or the last `tail`, within since/until."""
    kept: deque[LogEntry] = deque(maxlen=tail if tail >= 0 else None)
    for file in log_files(path):
        try:
            with _open(file) as f:
                for entry in parse_lines(f):
                    if entry.seconds < since or (until and entry.seconds > until):
                        continue
                    kept.append(entry)
        except FileNotFoundError:
            continue  # rotated away while we read
    return list(kept)


def parse_tail(text: str) -> int:
    """--tail: a count, or all (-1) for `all`, negatives and non-numbers, as Docker does."""
    try:
        value = int(text)
    except ValueError:
        return -1
    return value if value >= 0 else -1


def render(entry: LogEntry, timestamps: bool) -> str:
    """One entry as `docker logs` prints it."""
    return f"{fixed_nano(entry.time)} {entry.text}" if timestamps else entry.text
