"""Errors of port publishing.

EngineError
└── PortError
    ├── PortInUseError       the host port is taken: "port is already allocated" (a conflict)
    └── ProxyStartError      pyproxy reported `1\\n<message>` or never answered
"""

from engine.errors import EngineError, StateConflictError


class PortError(EngineError):
    """A published port could not be set up."""


class PortInUseError(PortError, StateConflictError):
    """The host port is taken by another container or process."""


class ProxyStartError(PortError):
    """The container's pyproxy failed to start."""
