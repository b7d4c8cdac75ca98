"""Errors of the OCI runtime module.

EngineError
└── OCIRuntimeError            the runtime refused or failed; `.message` is its own text
    ├── ContainerNotFoundError      "container does not exist"
    ├── ContainerExistsError        "container with given ID already exists"
    ├── ContainerNotRunningError    kill/pause on a stopped container ("container not running")
    ├── ContainerNotStoppedError    delete of a live container ("... that is not stopped")
    ├── InvalidContainerIDError     rejected before the runtime runs (or by the runtime)
    ├── InvalidSignalError          an unknown signal name, rejected before the runtime runs
    ├── RuntimeNotAvailableError    the runtime binary is missing or cannot be executed
    ├── CommandNotFoundError        the container's command is not found (exit code 127)
    └── CommandNotExecutableError   the container's command cannot be executed (exit code 126)
"""

from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class OCIRuntimeError(EngineError):
    """The runtime exited non-zero; the message is the last error it logged (or its stderr)."""

    def __init__(self, message: str, *, status: int = -1, action: str = "") -> None:
        self.message = message
        self.status = status
        self.action = action
        super().__init__(f"OCI runtime {action} failed: {message}" if action else message)


class ContainerNotFoundError(OCIRuntimeError, NotFoundError):
    """The runtime has no container with that id."""


class ContainerExistsError(OCIRuntimeError, StateConflictError):
    """A container with that id already exists."""


class ContainerNotRunningError(OCIRuntimeError, StateConflictError):
    """The container is not running (callers of kill may treat this as success)."""


class ContainerNotStoppedError(OCIRuntimeError, StateConflictError):
    """The container must be stopped first."""


class InvalidContainerIDError(OCIRuntimeError, InvalidParameterError):
    """The id has characters or a length the runtime refuses."""


class InvalidSignalError(OCIRuntimeError, InvalidParameterError):
    """Not a signal name or number."""


class RuntimeNotAvailableError(OCIRuntimeError):
    """The runtime binary is missing or cannot be executed."""


class CommandNotFoundError(OCIRuntimeError):
    """The container's command does not exist: the container's exit code is 127, as a
    shell's (Docker records it, and `docker run` exits with it)."""

    container_exit_code = 127


class CommandNotExecutableError(OCIRuntimeError):
    """The container's command is not executable: exit code 126, as a shell's."""

    container_exit_code = 126


def container_exit_code(exc: BaseException) -> int | None:
    """The exit code a container gets for failing to start with `exc` (127 or 126), or None
    when the failure is not its command's."""
    if isinstance(exc, CommandNotFoundError | CommandNotExecutableError):
        return exc.container_exit_code
    return None


def classify(message: str, *, status: int = -1, action: str = "") -> OCIRuntimeError:
    """Map runc/crun's message onto the tree (the texts are stable across runc 1.x and crun)."""
    low = message.lower()
    cls: type[OCIRuntimeError] = OCIRuntimeError
    if "executable file not found" in low or (
        "exec" in low and "no such file or directory" in low and "chdir" not in low
    ):
        cls = CommandNotFoundError
    elif ("permission denied" in low and "exec" in low) or "is a directory" in low:
        cls = CommandNotExecutableError
    elif "does not exist" in low or ("not found" in low and "container" in low):
        cls = ContainerNotFoundError
    elif "already exists" in low:
        cls = ContainerExistsError
    elif "not stopped" in low:
        cls = ContainerNotStoppedError
    elif "not running" in low or "container not running" in low:
        cls = ContainerNotRunningError
    elif "invalid container id" in low or "invalid id" in low:
        cls = InvalidContainerIDError
    elif "unknown signal" in low:
        cls = InvalidSignalError
    return cls(message, status=status, action=action)
