"""The bridge exception tree; every error this package raises derives from `BridgeError`.

    BridgeError                      (cni_code: the CNI error code the plugin reports)
    ├── ConfigError                  bad input: /33, gateway outside, bad names (CNI 7)
    │   └── OverlapError             the subnet overlaps another network
    ├── NetworkExistsError           create of a name (or bridge) already in use
    ├── NetworkNotFoundError         no network of that name
    ├── NetworkInUseError            delete of a network that still has endpoints
    ├── EndpointExistsError          the ifname (or the endpoint) already exists
    ├── EndpointNotFoundError        CHECK/inspect of an endpoint that is not there (CNI 3)
    ├── NamespaceMissingError        the container's namespace does not exist
    ├── PoolExhaustedError           no free address left in the range (CNI 50)
    ├── AddressInUseError            a requested address is taken
    ├── PortConflictError            a host port (proto, host IP, port) is already published
    ├── FirewallError                libnftables refused a transaction (nothing was applied)
    └── KernelError                  a netlink operation failed (errno kept)

Every operation that raises one of these has changed nothing on the host (undo stacks), except
KernelError/FirewallError raised by a delete, which is best effort and says what remains.
"""


class BridgeError(Exception):
    """Base of every error raised by `bridge`."""

    cni_code = 100


class ConfigError(BridgeError, ValueError):
    """The configuration or request is invalid; nothing was changed."""

    cni_code = 7


class OverlapError(ConfigError):
    """The subnet overlaps another network or a route of the host."""


class NetworkExistsError(BridgeError):
    """A network with that name or bridge already exists."""

    cni_code = 7


class NetworkNotFoundError(BridgeError):
    """No such network."""

    cni_code = 3


class NetworkInUseError(BridgeError):
    """The network still has endpoints."""


class EndpointExistsError(BridgeError):
    """The interface or the endpoint already exists."""

    cni_code = 100


class EndpointNotFoundError(BridgeError):
    """No such endpoint (or part of it is missing)."""

    cni_code = 3


class NamespaceMissingError(BridgeError):
    """The container's network namespace does not exist."""

    cni_code = 3


class PoolExhaustedError(BridgeError):
    """No free address left in the range."""

    cni_code = 50


class AddressInUseError(BridgeError):
    """The requested address is already leased."""

    cni_code = 100


class PortConflictError(BridgeError):
    """The host port is already published."""

    cni_code = 100


class FirewallError(BridgeError):
    """An nftables transaction failed; being atomic, it changed nothing."""

    cni_code = 100


class KernelError(BridgeError):
    """A netlink operation failed."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno
