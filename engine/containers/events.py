"""The engine's event log: one JSON line per event, appended by whichever process saw it.

Without a daemon there is no process to fan events out, so `pyengine events` reads
`events.jsonl` under the engine root. Each event is one write of less than PIPE_BUF bytes with
O_APPEND, so concurrent writers (CLI commands, shims) never interleave inside a line.
"""

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FILE = "events.jsonl"
# One rotation keeps the log bounded; `events --since` looks at both files.
MAX_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class Event:
    """Docker's event shape, trimmed: `container start web (image=busybox)`."""

    action: str
    id: str
    name: str = ""
    image: str = ""
    time_ns: int = 0
    exit_code: int | None = None

    def line(self) -> str:
        """As `docker events` prints it."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.time_ns / 1e9))
        frac = f"{self.time_ns % 1_000_000_000:09d}"
        attrs = [f"image={self.image}", f"name={self.name}"]
        if self.exit_code is not None:
            attrs.insert(0, f"exitCode={self.exit_code}")
        zone = time.strftime("%z")
        return f"{stamp}.{frac}{zone} container {self.action} {self.id} ({', '.join(attrs)})"


def append(root: Path, event: Event) -> None:
    """Record one event; never raises (an event log must not fail a lifecycle step)."""
    data = {
        "action": event.action,
        "id": event.id,
        "name": event.name,
        "image": event.image,
        "time_ns": event.time_ns or time.time_ns(),
    }
    if event.exit_code is not None:
        data["exit_code"] = event.exit_code
    line = (json.dumps(data, separators=(",", ":")) + "\n").encode()
    path = root / FILE
    try:
        if path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_name(FILE + ".1"))
    except OSError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


def _parse(raw: bytes) -> Event | None:
    try:
        data = json.loads(raw)
        return Event(
            data["action"], data["id"], data.get("name", ""), data.get("image", ""),
            int(data["time_ns"]), data.get("exit_code"),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


def read(root: Path, since_ns: int = 0, until_ns: int = 0) -> Iterator[Event]:
    """Stored events between since and until, oldest first."""
    for path in (root / (FILE + ".1"), root / FILE):
        try:
            with open(path, "rb") as f:
                for raw in f:
                    event = _parse(raw)
                    if (
                        event
                        and event.time_ns >= since_ns
                        and not (until_ns and event.time_ns > until_ns)
                    ):
                        yield event
        except FileNotFoundError:
            continue


def follow(root: Path, since_ns: int, poll: float = 0.1) -> Iterator[Event]:
    """Events from since_ns on, waiting for new ones forever (the caller stops iterating)."""
    path = root / FILE
    offset = 0
    inode = -1
    pending = b""
    while True:
        try:
            st = path.stat()
        except FileNotFoundError:
            time.sleep(poll)
            continue
        if st.st_ino != inode:
            inode, offset, pending = st.st_ino, 0, b""
        if st.st_size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(st.st_size - offset)
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                event = _parse(raw)
                if event and event.time_ns >= since_ns:
                    yield event
        else:
            time.sleep(poll)
