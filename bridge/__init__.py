"""Bridge networks, endpoints, IPAM and our own nftables table (depends on netns only).

Front door: `Driver` (driver.py); configs: `network_config`, `endpoint_request`,
`port_mapping` (config.py); errors: bridge.errors. See README.md.
"""

from __future__ import annotations

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
