"""Errors about volumes.

EngineError
└── VolumeError
    ├── NoSuchVolumeError      no volume has this name                  (NotFoundError)
    ├── VolumeInUseError       a container uses it                      (StateConflictError)
    └── InvalidVolumeError     a name or driver option Docker refuses   (InvalidParameterError)
"""

from collections.abc import Sequence

from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class VolumeError(EngineError):
    """A volume operation could not be done."""


class NoSuchVolumeError(VolumeError, NotFoundError):
    """Docker's `get NAME: no such volume`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"get {name}: no such volume")
        self.name = name


class VolumeInUseError(VolumeError, StateConflictError):
    """Docker's `remove NAME: volume is in use - [ID, ...]`."""

    def __init__(self, name: str, users: Sequence[str]) -> None:
        super().__init__(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.name = name
        self.users = tuple(users)


class InvalidVolumeError(VolumeError, InvalidParameterError):
    """A volume name, driver or option that the local driver refuses."""
