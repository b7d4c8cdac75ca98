"""Published-port mappings: validated here, unique per host port (a wildcard covers all IPs)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from bridge.errors import ConfigError

PROTOS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class PortMapping:
    """A published port: `host_ip` None means every local address (the wildcard)."""

    proto: str
    host_port: int
    container_port: int
    host_ip: IPv4Address | IPv6Address | None = None

    def __post_init__(self) -> None:
        # 0.0.0.0 and :: mean "every address", whoever built the mapping.
        if self.host_ip is not None and self.host_ip.is_unspecified:
            object.__setattr__(self, "host_ip", None)

    @property
    def key(self) -> tuple[str, str, int]:
        """What must be unique host-wide: (proto, host IP or '', host port)."""
        return (self.proto, str(self.host_ip or ""), self.host_port)

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.proto,
            "host_port": self.host_port,
            "container_port": self.container_port,
            "host_ip": str(self.host_ip) if self.host_ip else None,
        }


def _port(value: Any, what: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid {what} {value!r}: not an integer") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"invalid {what} {port}: outside 1..65535")
    return port


def port_mapping(
    host_port: Any, container_port: Any, proto: str = "tcp", host_ip: Any = None
) -> PortMapping:
    """Validate one mapping; host IP '', '0.0.0.0', '::' or None is the wildcard (both
    families)."""
    proto = str(proto or "tcp").lower()
    if proto not in PROTOS:
        raise ConfigError(f"invalid protocol {proto!r}: one of {', '.join(PROTOS)}")
    ip: IPv4Address | IPv6Address | None = None
    if host_ip not in (None, "", "0.0.0.0", "::"):
        try:
            parsed = ipaddress.ip_address(str(host_ip))
        except ValueError:
            raise ConfigError(f"invalid host IP {host_ip!r}: not an IP address") from None
        ip = parsed
    return PortMapping(proto, _port(host_port, "host port"), _port(container_port, "port"), ip)


def port_from_json(d: dict[str, Any]) -> PortMapping:
    return port_mapping(d["host_port"], d["container_port"], d["proto"], d.get("host_ip"))


class DuplicatePortError(ConfigError):
    """Two mappings in one request collide."""


def check_unique_ports(ports: tuple[PortMapping, ...]) -> None:
    """Two mappings of one request may not claim the same host port (wildcard covers all)."""
    seen: dict[tuple[str, int], set[str]] = {}
    for p in ports:
        ips = seen.setdefault((p.proto, p.host_port), set())
        ip = str(p.host_ip or "")
        if ip in ips or (ips and ("" in ips or ip == "")):
            raise DuplicatePortError(
                f"port {p.proto}/{p.host_port} is published twice in one request"
            )
        ips.add(ip)
