"""Docker's exit codes for the engine's errors: the one place they are decided.

The engine's errors carry kinds (engine/errors.py), not exit codes. `docker` exits 1 when the
daemon refuses a request about something it names (`docker stop nosuch`, a name in use, every
image command, every network command), 125 when the daemon fails otherwise, and, for a
container whose command cannot run, 127 or 126 as a shell would. `run` and `create` exit 125
for every failure of the daemon, a name conflict included (`RunFailedError`).
"""

from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.errors import EngineError
from engine.images.errors import ImageError
from engine.networks.errors import NetworkError
from engine.runtime.errors import container_exit_code

DAEMON_FAILED = 125
REFUSED = 1


class CommandRefusedError(EngineError):
    """A CLI command's own refusal, before or instead of the engine's (docker exits 1)."""


class RunFailedError(Exception):
    """What `run` and `create` raise for an engine error: docker exits 125 for all of them
    but a command that cannot run (126, 127)."""

    def __init__(self, cause: EngineError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def exit_code(exc: EngineError | RunFailedError) -> int:
    """The exit status `docker` gives this failure."""
    if isinstance(exc, RunFailedError):
        code = container_exit_code(exc.cause)
        return DAEMON_FAILED if code is None else code
    code = container_exit_code(exc)
    if code is not None:
        return code
    refusals = (
        NoSuchContainerError | ConflictError | ImageError | NetworkError | CommandRefusedError
    )
    if isinstance(exc, refusals):
        return REFUSED
    return DAEMON_FAILED
