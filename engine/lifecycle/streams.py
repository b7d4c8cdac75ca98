"""The engine's two streams, as iterators a caller renders: a container's log entries and the
engine's events. The CLI prints them; the API server will frame them (stdcopy or raw, chunked),
so neither the engine nor its requests know about terminals or HTTP.
"""

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


def log_entries(
    store: ContainerStore, log_path: Callable[[str], Path], ref: str, request: LogsRequest
) -> Iterator[LogEntry]:
    """The entries `docker logs` shows; NoSuchContainerError at once for an unknown `ref`."""
    container_id = store.find(ref).id
    return _entries(store, log_path(container_id), container_id, request)


def _entries(
    store: ContainerStore, path: Path, container_id: str, request: LogsRequest
) -> Iterator[LogEntry]:
    entries = log_reader.read_entries(
        path, tail=request.tail, since=request.since, until=request.until
    )
    yield from entries
    if not request.follow or request.until:
        return
    seen = entries[-1].time if entries else ""
    while True:
        try:
            live = store.find(container_id).state.status in ("running", "paused")
        except NoSuchContainerError:
            live = False
        for entry in log_reader.read_entries(path):
            if entry.time > seen:
                yield entry
                seen = entry.time
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
