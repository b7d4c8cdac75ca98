"""Errors of network requests; each refused request changed nothing.

EngineError
└── NetworkError               the bridge driver or the namespace failed
    ├── NoSuchNetworkError     no network (or endpoint, or namespace) of that name  (not found)
    ├── NetworkConflictError   exists, in use, overlaps, address or port taken      (conflict)
    └── InvalidNetworkError    a value the request cannot have                      (parameter)
"""

from bridge import errors as bridge_errors
from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class NetworkError(EngineError):
    """A network request was refused; nothing was changed."""


class NoSuchNetworkError(NetworkError, NotFoundError):
    """The network (or the endpoint or namespace) the request named does not exist."""


class NetworkConflictError(NetworkError, StateConflictError):
    """The request contradicts what exists: a name, a subnet, an address or a port taken."""


class InvalidNetworkError(NetworkError, InvalidParameterError):
    """A value the request cannot have (a /33, a gateway outside its subnet...)."""


# Checked in order: OverlapError is a ConfigError, and a conflict rather than bad input.
_KINDS: tuple[tuple[type[Exception], type[NetworkError]], ...] = (
    (bridge_errors.OverlapError, NetworkConflictError),
    (bridge_errors.ConfigError, InvalidNetworkError),
    (bridge_errors.NetworkNotFoundError, NoSuchNetworkError),
    (bridge_errors.EndpointNotFoundError, NoSuchNetworkError),
    (bridge_errors.NamespaceMissingError, NoSuchNetworkError),
    (bridge_errors.NetworkExistsError, NetworkConflictError),
    (bridge_errors.NetworkInUseError, NetworkConflictError),
    (bridge_errors.EndpointExistsError, NetworkConflictError),
    (bridge_errors.PoolExhaustedError, NetworkConflictError),
    (bridge_errors.AddressInUseError, NetworkConflictError),
    (bridge_errors.PortConflictError, NetworkConflictError),
)


def network_error(exc: Exception) -> NetworkError:
    """The engine's error for a bridge or netns error, with its message."""
    for source, kind in _KINDS:
        if isinstance(exc, source):
            return kind(str(exc))
    return NetworkError(str(exc))
