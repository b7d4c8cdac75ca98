"""Errors of the shim and its clients; `kind` is what travels on the wire.

    EngineError
    └── ShimError                  kind "internal"
        ├── TaskNotFoundError      kind "not_found": unknown exec id, no task created yet
        ├── TaskExistsError        kind "already_exists": duplicate container or exec id
        ├── TaskConflictError      kind "failed_precondition": wrong action for the state
        ├── InvalidArgumentError   kind "invalid_argument": a malformed request
        ├── ShimUnavailableError   kind "unavailable": no shim answers on the socket
        ├── DeadlineExceededError  kind "deadline_exceeded": a client-side timeout (wait)
        └── ShimProtocolError      kind "protocol": a reply that is not the protocol

Runtime errors raised inside the shim travel as kind "runtime" with their class name, and the
client raises the same `engine.runtime.errors` class (so 126/127 survive the trip).
"""

from __future__ import annotations

from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class ShimError(EngineError):
    """Something the shim or its client reports."""

    kind = "internal"


class TaskNotFoundError(ShimError, NotFoundError):
    kind = "not_found"


class TaskExistsError(ShimError, StateConflictError):
    kind = "already_exists"


class TaskConflictError(ShimError, StateConflictError):
    kind = "failed_precondition"


class InvalidArgumentError(ShimError, InvalidParameterError):
    kind = "invalid_argument"


class ShimUnavailableError(ShimError):
    kind = "unavailable"


class DeadlineExceededError(ShimError):
    kind = "deadline_exceeded"


class ShimProtocolError(ShimError):
    kind = "protocol"


KINDS: dict[str, type[ShimError]] = {
    c.kind: c
    for c in (
        ShimError,
        TaskNotFoundError,
        TaskExistsError,
        TaskConflictError,
        InvalidArgumentError,
        ShimUnavailableError,
        DeadlineExceededError,
        ShimProtocolError,
    )
}
