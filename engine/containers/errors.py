"""Errors about containers and their options.

EngineError
└── ContainerError
    ├── InvalidOptionError     a flag value Docker would refuse       (InvalidParameterError)
    ├── NoSuchContainerError   unknown id or name                     (NotFoundError)
    └── ConflictError          a name in use, a state that forbids it (StateConflictError)
"""

from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class ContainerError(EngineError):
    """A container operation could not be done."""


class InvalidOptionError(ContainerError, InvalidParameterError):
    """A flag value that Docker refuses before anything is created."""


class NoSuchContainerError(ContainerError, NotFoundError):
    """No container has this id, id prefix or name."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")
        self.ref = ref


class ConflictError(ContainerError, StateConflictError):
    """The action contradicts the container's state or another container's name."""
