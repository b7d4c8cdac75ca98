"""Errors about containers and their options, each with the exit code `docker` uses.

EngineError
└── ContainerError
    ├── InvalidOptionError     a flag value Docker would refuse (125)
    ├── NoSuchContainerError   unknown id or name (1, as `docker stop x` exits)
    └── ConflictError          a name in use, a state that forbids the action (1 or 125)
"""

from engine.errors import EngineError


class ContainerError(EngineError):
    """A container operation could not be done."""


class InvalidOptionError(ContainerError):
    """A flag value that Docker refuses before anything is created."""

    exit_code = 125


class NoSuchContainerError(ContainerError):
    """No container has this id, id prefix or name."""

    exit_code = 1

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")
        self.ref = ref


class ConflictError(ContainerError):
    """The action contradicts the container's state or another container's name."""

    exit_code = 1
