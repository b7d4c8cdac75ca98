"""`wait`: Docker's three conditions over a container's records and its shim's report.

A start and a quick exit can both fall between two looks at the record, and a container run
with --rm can be gone by the next one; the exit code then comes from the shim's own report to
this wait, or the container's last `die` event.
"""

from engine.containers import events as event_log
from engine.containers.errors import InvalidOptionError, NoSuchContainerError
from engine.containers.record import LIVE, ContainerRecord
from engine.lifecycle.backends import TaskStatus
from engine.lifecycle.base import LifecycleBase

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


def wait_for(
    engine: LifecycleBase, ref: str, condition: str = "not-running", poll: float = 0.1
) -> int:
    """Block until the condition holds; the container's exit code.

    Docker's conditions: `not-running` (the default; at once if it is not running),
    `next-exit` (the next exit, waiting for a start first if need be) and `removed` (the
    exit code once the container is gone, even if --rm removed it).
    """
    if condition not in WAIT_CONDITIONS:
        raise InvalidOptionError(f"invalid condition: {condition!r}")
    record = engine.store.find(ref)
    if condition in ("next-exit", "removed"):
        # A start and a quick exit can both fall between two looks (an API client waits
        # before it starts): a new finish time is that exit. `removed` waits for one too
        # when the container has not run yet (`run --rm` through the API waits first).
        finished = record.state.finished_at
        waiting = condition == "next-exit" or record.state.status == "created"
        while waiting and record.state.status not in LIVE:
            if record.state.finished_at != finished:
                break
            engine.sleep(poll)
            try:
                record = engine.store.find(record.id)
            except NoSuchContainerError:  # it ran, exited and --rm removed it meanwhile
                return _last_exit_code(engine, record)
    # The task's exit, as its shim reported it to this wait (one read, no second query).
    ended = engine.tasks.wait(record.id, None) if record.state.status in LIVE else None
    try:
        # Under the container's lock: the exit handler records the exit holding it, so once
        # this returns the record says exited too (as `docker inspect` after `docker wait`).
        with engine.locked(record.id) as current:
            code = current.state.exit_code
    except NoSuchContainerError:  # removed meanwhile (--rm): the task's own report
        if ended is None and condition == "not-running":
            raise
        return _last_exit_code(engine, record, ended)
    if condition == "removed":
        while True:
            try:
                record = engine.store.find(record.id)
            except NoSuchContainerError:
                return _last_exit_code(engine, record, ended)
            engine.sleep(poll)
    return code


def _last_exit_code(
    engine: LifecycleBase, record: ContainerRecord, ended: TaskStatus | None = None
) -> int:
    """The exit code of a container that is gone: its shim's report if we had it, else its
    last `die` event, else what its record said when we last looked."""
    if ended is not None and ended.exit_code is not None:
        return ended.exit_code
    code = record.state.exit_code
    for event in event_log.read(engine.root, since_ns=int(record.created * 1e9)):
        if event.id == record.id and event.action == "die" and event.exit_code is not None:
            code = event.exit_code
    return code
