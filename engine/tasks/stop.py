"""Stopping through shims: the stop signal, the timeout, then SIGKILL (Docker's `stop`).

`stop_all` is checklist item 60: with live-restore off, an engine that shuts down stops every
container with its own stop timeout, all at once, each given 5 s of grace after the SIGKILL.
"""

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from engine.shimapi.errors import DeadlineExceededError, TaskConflictError, TaskNotFoundError
from engine.shimapi.exitfile import ExitStatus
from engine.tasks.client import ShimClient

KILL_GRACE = 5.0


def stop(
    client: ShimClient, *, signal: str | int = "TERM", timeout: float | None = 10.0
) -> ExitStatus:
    """Signal, wait up to `timeout` (None: forever), then SIGKILL and wait again."""
    try:
        client.kill(signal)
    except (TaskNotFoundError, TaskConflictError):
        return client.wait()  # already exited (or exiting): its status
    try:
        return client.wait(timeout=timeout)
    except DeadlineExceededError:
        pass
    try:
        client.kill("KILL")
    except (TaskNotFoundError, TaskConflictError):
        pass
    return client.wait(timeout=KILL_GRACE)


def stop_all(
    clients: Mapping[str, ShimClient],
    timeouts: Mapping[str, float | None] | None = None,
    default_timeout: float | None = 10.0,
) -> dict[str, ExitStatus | Exception]:
    """Stop every container in parallel; the result or the error per id."""
    timeouts = timeouts or {}

    def one(cid: str) -> ExitStatus | Exception:
        try:
            return stop(clients[cid], timeout=timeouts.get(cid, default_timeout))
        except Exception as exc:  # one broken shim must not stop the others' shutdown
            return exc

    if not clients:
        return {}
    with ThreadPoolExecutor(max_workers=min(32, len(clients))) as pool:
        return dict(zip(clients, pool.map(one, clients), strict=True))
