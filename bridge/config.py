"""Network, endpoint and port configurations: frozen, built and validated here and only here.

`network_config(...)` / `endpoint_request(...)` / `port_mapping(...)` take loose values (strings
from a CLI, JSON from CNI), apply the defaults, check everything, and raise one `ConfigError`
naming the problem. Nothing below this module re-validates or reads raw input.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Literal

from bridge.digest import sha256_hex
from bridge.errors import ConfigError
from bridge.patterns import is_mac, is_name
from bridge.ports import (
    DuplicatePortError,
    PortMapping,
    check_unique_ports,
    port_from_json,
    port_mapping,
)

Policy = Literal["lowest", "round-robin"]

IFNAMSIZ = 15
NAME_MAX = 64
POLICIES = ("lowest", "round-robin")


def check_name(kind: str, value: str, limit: int = NAME_MAX) -> str:
    """A network or container name: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most `limit` chars."""
    if not isinstance(value, str) or not is_name(value):
        raise ConfigError(f"invalid {kind} {value!r}: must match [A-Za-z0-9][A-Za-z0-9_.-]*")
    if len(value) > limit:
        raise ConfigError(f"invalid {kind} {value!r}: longer than {limit} characters")
    return value


def check_ifname(kind: str, value: str) -> str:
    """A Linux interface name: 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise ConfigError(f"invalid {kind} {value!r}: empty, '.' or '..'")
    if len(value.encode()) > IFNAMSIZ:
        raise ConfigError(f"invalid {kind} {value!r}: longer than {IFNAMSIZ} bytes")
    if any(c in value for c in "/:") or any(c.isspace() for c in value):
        raise ConfigError(f"invalid {kind} {value!r}: contains '/', ':' or whitespace")
    return value


@dataclass(frozen=True)
class NetworkConfig:
    """One bridge network. Build with `network_config()`."""

    name: str
    bridge: str
    subnet: IPv4Network
    gateway: IPv4Address
    range_start: IPv4Address
    range_end: IPv4Address
    subnet6: IPv6Network | None = None
    gateway6: IPv6Address | None = None
    mtu: int = 0
    icc: bool = True
    masquerade: bool = True
    internal: bool = False
    isolate: bool = True
    hairpin: bool = True
    promisc: bool = False
    gateway_on_bridge: bool = True
    default_route: bool = True
    veth_prefix: str = "veth"
    policy: Policy = "lowest"
    labels: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that `network_config(**d)` turns back into this config."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in d.items():
            if isinstance(value, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
                d[key] = str(value)
        d["labels"] = dict(self.labels)
        return d


def _net4(value: Any, what: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ConfigError(f"invalid {what} {value!r}: not an IPv4 CIDR") from None
    if not isinstance(net, IPv4Network):
        raise ConfigError(f"invalid {what} {value!r}: not an IPv4 subnet")
    if net.prefixlen > 30:
        raise ConfigError(f"invalid {what} {value!r}: smaller than /30 leaves no container room")
    return net


def _addr_in(value: Any, net: IPv4Network | IPv6Network, what: str) -> Any:
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        raise ConfigError(f"invalid {what} {value!r}: not an IP address") from None
    if addr not in net:
        raise ConfigError(f"invalid {what} {addr}: outside subnet {net}")
    if addr == net.network_address or (
        isinstance(net, IPv4Network) and addr == net.broadcast_address
    ):
        raise ConfigError(f"invalid {what} {addr}: the network or broadcast address of {net}")
    return addr


def default_bridge(name: str) -> str:
    """Docker's scheme: `br-` + 12 hex digits (here of the network name's hash)."""
    return "br-" + sha256_hex(name.encode())[:12]


def network_config(
    name: str,
    subnet: Any,
    *,
    gateway: Any = None,
    bridge: str | None = None,
    range_start: Any = None,
    range_end: Any = None,
    subnet6: Any = None,
    gateway6: Any = None,
    mtu: Any = 0,
    icc: bool = True,
    masquerade: bool = True,
    internal: bool = False,
    isolate: bool = True,
    hairpin: bool = True,
    promisc: bool = False,
    gateway_on_bridge: bool = True,
    default_route: bool | None = None,
    veth_prefix: str = "veth",
    policy: str = "lowest",
    labels: dict[str, str] | None = None,
) -> NetworkConfig:
    """Validate and build a NetworkConfig; raise ConfigError naming the first problem."""
    check_name("network name", name)
    br = check_ifname("bridge name", bridge or default_bridge(name))
    net = _net4(subnet, "subnet")
    gw = _addr_in(gateway, net, "gateway") if gateway is not None else net.network_address + 1
    first = _addr_in(range_start, net, "range start") if range_start else net.network_address + 1
    last = _addr_in(range_end, net, "range end") if range_end else net.broadcast_address - 1
    if first > last:
        raise ConfigError(f"invalid range: start {first} is after end {last}")
    net6: IPv6Network | None = None
    gw6 = None
    if subnet6 is not None:
        try:
            parsed6 = ipaddress.ip_network(str(subnet6), strict=False)
        except ValueError:
            raise ConfigError(f"invalid IPv6 subnet {subnet6!r}: not a CIDR") from None
        if not isinstance(parsed6, IPv6Network) or parsed6.prefixlen > 124:
            raise ConfigError(
                f"invalid IPv6 subnet {subnet6!r}: need an IPv6 prefix of /124 or wider"
            )
        net6 = parsed6
        gw6 = _addr_in(gateway6, net6, "IPv6 gateway") if gateway6 else net6.network_address + 1
    elif gateway6 is not None:
        raise ConfigError("invalid IPv6 gateway: no IPv6 subnet given")
    try:
        mtu_value = int(mtu or 0)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid MTU {mtu!r}: not an integer") from None
    if mtu_value and not 68 <= mtu_value <= 65535:
        raise ConfigError(f"invalid MTU {mtu_value}: outside 68..65535")
    if not veth_prefix or len(veth_prefix) > 6 or not veth_prefix.isalnum():
        raise ConfigError(f"invalid veth prefix {veth_prefix!r}: 1-6 letters or digits")
    if hairpin and promisc:
        raise ConfigError(
            "invalid options: hairpin mode and a promiscuous bridge exclude each other"
        )
    if policy not in POLICIES:
        raise ConfigError(f"invalid allocation policy {policy!r}: one of {', '.join(POLICIES)}")
    return NetworkConfig(
        name=name,
        bridge=br,
        subnet=net,
        gateway=gw,
        range_start=first,
        range_end=last,
        subnet6=net6,
        gateway6=gw6,
        mtu=mtu_value,
        icc=bool(icc),
        masquerade=bool(masquerade) and not internal,
        internal=bool(internal),
        isolate=bool(isolate),
        hairpin=bool(hairpin),
        promisc=bool(promisc),
        gateway_on_bridge=bool(gateway_on_bridge),
        default_route=(not internal) if default_route is None else bool(default_route),
        veth_prefix=veth_prefix,
        policy="lowest" if policy == "lowest" else "round-robin",
        labels=tuple(sorted((labels or {}).items())),
    )


def network_from_json(d: dict[str, Any]) -> NetworkConfig:
    """The inverse of `NetworkConfig.to_json()`."""
    d = dict(d)
    name, subnet = d.pop("name"), d.pop("subnet")
    return network_config(name, subnet, **d)


@dataclass(frozen=True)
class EndpointRequest:
    """What ADD needs for one container interface. Build with `endpoint_request()`."""

    container_id: str
    netns: str
    ifname: str = "eth0"
    mac: str | None = None
    ip: IPv4Address | None = None
    ports: tuple[PortMapping, ...] = ()
    # The network's gateway as the default route: a container's second network (Docker's
    # `network connect`) adds only its subnet, the first one keeps the way out.
    default_route: bool = True


def endpoint_request(
    container_id: str,
    netns: str,
    ifname: str = "eth0",
    *,
    mac: str | None = None,
    ip: Any = None,
    ports: tuple[PortMapping, ...] | list[PortMapping] = (),
    default_route: bool = True,
) -> EndpointRequest:
    """Validate an ADD request (namespace existence is checked at ADD time, not here)."""
    check_name("container id", container_id, limit=256)
    check_ifname("interface name", ifname)
    if not netns:
        raise ConfigError("invalid namespace: empty")
    if mac is not None:
        mac = mac.lower()
        if not is_mac(mac) or int(mac[:2], 16) & 1:
            raise ConfigError(f"invalid MAC {mac!r}: need a unicast aa:bb:cc:dd:ee:ff")
    addr = None
    if ip is not None:
        try:
            parsed = ipaddress.ip_address(str(ip))
        except ValueError:
            raise ConfigError(f"invalid IP {ip!r}: not an IP address") from None
        if not isinstance(parsed, IPv4Address):
            raise ConfigError(f"invalid IP {ip!r}: only an IPv4 address can be requested")
        addr = parsed
    ports = tuple(ports)
    check_unique_ports(ports)
    return EndpointRequest(container_id, netns, ifname, mac, addr, ports, default_route)


__all__ = [
    "DuplicatePortError",
    "EndpointRequest",
    "NetworkConfig",
    "PortMapping",
    "check_unique_ports",
    "endpoint_request",
    "network_config",
    "network_from_json",
    "port_from_json",
    "port_mapping",
]
