"""The engine's two streams, as iterators a caller renders: a container's log entries and the
engine's events. The CLI prints them; the API server will frame them (stdcopy or raw, chunked),
so neither the engine nor its requests know about terminals or HTTP.
"""

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.containers import events as event_log
from engine.containers import logs as log_reader
from engine.containers.errors import NoSuchContainerError
from engine.containers.events import Event
from engine.containers.logs import LogEntry
from engine.containers.store import ContainerStore

FOLLOW_POLL = 0.1  # seconds between looks at a followed log
TAIL_PROBE = 1 << 16  # bytes looked at for a line being written (the shim writes whole lines)


@dataclass(frozen=True)
class LogsRequest:
    """`logs`: the whole log or its last `tail` entries (-1: all), within since/until (seconds
    since the epoch, 0: unbounded); `follow` goes on with new entries while the container runs."""

    follow: bool = False
    tail: int = -1
    since: float = 0.0
    until: float = 0.0


@dataclass(frozen=True)
class EventsRequest:
    """`events`: those since `since_ns` (0: only new ones), up to `until_ns` (0: stream on)."""

    since_ns: int = 0
    until_ns: int = 0


class LogCursor:
    """A container's log in pieces, for a caller that paces itself (the API server's event
    loop): `first()` is what the request selects now, then each `more()` the entries written
    since and whether the container may still write (with `follow`)."""

    def __init__(
        self, store: ContainerStore, path: Path, container_id: str, request: LogsRequest
    ) -> None:
        self.store, self.path, self.container_id, self.request = store, path, container_id, request
        self._seen = ""
        self._file, self._offset = (0, 0), 0  # the log file (inode, device) and where we are

    def first(self) -> list[LogEntry]:
        request = self.request
        self._mark()  # before reading: what is written meanwhile comes again, filtered by time
        entries = log_reader.read_entries(
            self.path, tail=request.tail, since=request.since, until=request.until
        )
        self._seen = entries[-1].time if entries else ""
        return entries

    @property
    def follows(self) -> bool:
        return self.request.follow and not self.request.until

    def more(self) -> tuple[list[LogEntry], bool]:
        """What was written since, read from where the last look ended (the whole log again
        only when it was rotated or truncated meanwhile)."""
        try:
            live = self.store.find(self.container_id).state.status in ("running", "paused")
        except NoSuchContainerError:
            live = False
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return [], live
        if (st.st_ino, st.st_dev) != self._file or st.st_size < self._offset:
            self._mark()
            candidates = log_reader.read_entries(self.path)
        else:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(st.st_size - self._offset)
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offset += len(whole)
            candidates = list(log_reader.parse_lines(whole.decode(errors="replace").splitlines()))
        new = [e for e in candidates if e.time > self._seen]
        if new:
            self._seen = new[-1].time
        return new, live

    def _mark(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._file, self._offset = (0, 0), 0
            return
        # From the end of the last whole line: one being written is read whole next time.
        with open(self.path, "rb") as f:
            f.seek(max(0, st.st_size - TAIL_PROBE))
            tail = f.read(st.st_size - f.tell())
        self._file, self._offset = (
            (st.st_ino, st.st_dev),
            st.st_size - len(tail.rpartition(b"\n")[2]),
        )


def log_cursor(
    store: ContainerStore, log_path: Callable[[str], Path], ref: str, request: LogsRequest
) -> LogCursor:
    """NoSuchContainerError at once for an unknown `ref`."""
    container_id = store.find(ref).id
    return LogCursor(store, log_path(container_id), container_id, request)


def log_entries(
    store: ContainerStore, log_path: Callable[[str], Path], ref: str, request: LogsRequest
) -> Iterator[LogEntry]:
    """The entries `docker logs` shows, as one iterator (following when asked)."""
    return _entries(log_cursor(store, log_path, ref, request))


def _entries(cursor: LogCursor) -> Iterator[LogEntry]:
    yield from cursor.first()
    if not cursor.follows:
        return
    while True:
        new, live = cursor.more()
        yield from new
        if not live:
            return
        time.sleep(FOLLOW_POLL)


def engine_events(root: Path, request: EventsRequest) -> Iterator[Event]:
    """The event log's events in the request's window; without `until_ns`, new ones as they
    are appended, for as long as the caller reads."""
    if request.until_ns:
        yield from event_log.read(root, request.since_ns, request.until_ns)
        return
    start_ns = time.time_ns()
    if request.since_ns:
        yield from event_log.read(root, request.since_ns, start_ns)
    yield from event_log.follow(root, start_ns)
