"""Which handler serves a request, and the engine's error kinds as Docker's statuses.

This is the API's only error edge, as `cli/exitcodes.py` is the CLI's: a handler raises the
engine's exceptions, and here `NotFoundError` becomes 404, `StateConflictError` 409,
`InvalidParameterError` 400 and any other `EngineError` 500, with Docker's `{"message": ...}`.
An endpoint that is not served answers 404 naming it, never a hang.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.api.http import HttpError, Request, Response, error_reply
from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError

log = logging.getLogger("pyengine.api")

Endpoint = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: Endpoint


def status_of(exc: EngineError) -> int:
    """Docker's status for an engine error, by its kind."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StateConflictError):
        return 409
    if isinstance(exc, InvalidParameterError):
        return 400
    return 500


class Router:
    """Routes in the order added; `{name}` in a path matches one segment, `{name:path}` the rest."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, path: str, endpoint: Endpoint) -> None:
        pattern = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", path)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append(Route(method, re.compile(f"^{pattern}/?$"), endpoint))

    async def __call__(self, request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        allowed = False
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method != method and not (route.method == "HEAD" == request.method):
                allowed = True
                continue
            try:
                return await route.endpoint(request, **match.groupdict())
            except HttpError as exc:
                return error_reply(exc.status, str(exc))
            except EngineError as exc:
                return error_reply(status_of(exc), str(exc))
            except Exception:  # a bug of ours: say so, and stay up for everyone else
                log.exception("%s %s", request.method, request.path)
                return error_reply(500, f"internal error serving {request.method} {request.path}")
        if allowed:
            return error_reply(405, f"method {request.method} not allowed for {request.path}")
        return error_reply(404, f"page not found: {request.method} {request.path} is not served")
