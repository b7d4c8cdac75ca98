"""Bridge networks, endpoints, IPAM and our own nftables table (depends on netns only).

Front door: `Driver` (driver.py); configs: `network_config`, `endpoint_request`,
`port_mapping` (config.py); errors: bridge.errors. See README.md.

The names below are loaded on first use (PEP 562): `pybridge` is exec'd once per CNI call and
imports `bridge.cni`, which must not pay for the whole driver just because it is in here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing: see bridge/README.md
if TYPE_CHECKING:
    from bridge.config import (
        EndpointRequest,
        NetworkConfig,
        PortMapping,
        endpoint_request,
        network_config,
        port_mapping,
    )
    from bridge.driver import Driver
    from bridge.state import DEFAULT_ROOT, EndpointRecord

_HOME = {
    "DEFAULT_ROOT": "bridge.state",
    "Driver": "bridge.driver",
    "EndpointRecord": "bridge.state",
    "EndpointRequest": "bridge.config",
    "NetworkConfig": "bridge.config",
    "PortMapping": "bridge.config",
    "endpoint_request": "bridge.config",
    "network_config": "bridge.config",
    "port_mapping": "bridge.config",
}

__all__ = [
    "DEFAULT_ROOT",
    "Driver",
    "EndpointRecord",
    "EndpointRequest",
    "NetworkConfig",
    "PortMapping",
    "endpoint_request",
    "network_config",
    "port_mapping",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bridge' has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value  # once: later lookups never reach __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
