"""Bridge networks as requests: `create`, `networks`, `inspect`, `remove`, `prune`, `gc`,
`reload`.

The CLI (engine/cli/network.py) parses flags into a `NetworkCreate` and renders what comes back;
the API server will build the same request from Docker's JSON. Every value is checked here, so
a message names the field that was given; how the values fit together (a gateway outside the
subnet...) is bridge's `network_config` to say.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from bridge import Driver, network_config
from bridge.config import NetworkConfig
from bridge.errors import BridgeError
from bridge.networks import pick_subnet
from engine.networks.errors import InvalidNetworkError, network_error
from netns import NetnsError

# Docker's driver options (`-o`) and the NetworkConfig field each sets.
OPTIONS = {
    "com.docker.network.bridge.name": "bridge",
    "com.docker.network.driver.mtu": "mtu",
    "com.docker.network.bridge.enable_icc": "icc",
    "com.docker.network.bridge.enable_ip_masquerade": "masquerade",
}


@dataclass(frozen=True)
class NetworkCreate:
    """`network create`: empty strings and zeros mean "not given" (Docker's defaults)."""

    name: str
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    ipv6: bool = False
    subnet6: str = ""
    internal: bool = False
    mtu: int = 0
    options: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NetworkView:
    """One network as `inspect` shows it: its configuration and its endpoints (JSON-ready)."""

    name: str
    bridge: str
    subnet: str
    config: dict[str, Any]
    endpoints: tuple[dict[str, Any], ...]
    # The driver options (-o) that made it differ from the defaults, as Docker lists them.
    options: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.config, "endpoints": list(self.endpoints)}


@dataclass(frozen=True)
class GcReport:
    """What `gc` reconciled: endpoints, veths and leases it removed."""

    endpoints: list[str]
    veths: list[str]
    leases: list[str]


class NetworkService:
    """The networks of one state root, made in one namespace, with our nftables tables."""

    def __init__(self, root: str, netns: str | None = None, table: str = "pyengine") -> None:
        self.root, self.netns, self.table = root, netns, table

    @contextmanager
    def _driver(self) -> Iterator[Driver]:
        try:
            with Driver(self.root, netns=self.netns, table=self.table) as driver:
                yield driver
        except (BridgeError, NetnsError) as exc:
            raise network_error(exc) from exc

    def create(self, request: NetworkCreate) -> str:
        """Create the network; its name."""
        config = _config_fields(request)
        with self._driver() as driver:
            cfg = network_config(request.name, request.subnet or pick_subnet(driver.host), **config)
            driver.create_network(cfg)
        return request.name

    def networks(self) -> list[NetworkView]:
        with self._driver() as driver:
            return [_view(cfg, driver) for cfg in driver.networks()]

    def inspect(self, names: tuple[str, ...]) -> list[NetworkView]:
        with self._driver() as driver:
            return [_view(driver.network(name), driver) for name in names]

    def remove(self, names: tuple[str, ...]) -> list[str]:
        """Remove each network in turn (refused while endpoints are attached)."""
        removed = []
        with self._driver() as driver:
            for name in names:
                driver.delete_network(name)
                removed.append(name)
        return removed

    def prune(self) -> list[str]:
        with self._driver() as driver:
            return list(driver.prune())

    def gc(self) -> GcReport:
        with self._driver() as driver:
            report = driver.gc()
        return GcReport(list(report.endpoints), list(report.veths), list(report.leases))

    def reload(self) -> None:
        with self._driver() as driver:
            driver.reload()


def _config_fields(request: NetworkCreate) -> dict[str, Any]:
    """network_config's keyword arguments from the request, each value's syntax checked."""
    fields: dict[str, Any] = {
        "gateway": request.gateway or None,
        "internal": request.internal,
        "mtu": request.mtu,
    }
    for key, value in request.options:
        if key not in OPTIONS:
            option = f"{key}={value}"
            raise InvalidNetworkError(f"invalid option {option!r}: one of {', '.join(OPTIONS)}")
        field = OPTIONS[key]
        fields[field] = _bool(value, key) if field in ("icc", "masquerade") else value
    if request.ipv6 != bool(request.subnet6):
        raise InvalidNetworkError("invalid IPv6 settings: --ipv6 and --subnet6 go together")
    fields["subnet6"] = request.subnet6 or None
    fields["labels"] = dict(request.labels)
    given = {
        "--subnet": request.subnet,
        "--ip-range": request.ip_range,
        "--subnet6": request.subnet6,
    }
    for flag, text in given.items():
        if text:
            _cidr(flag, text)
    if request.gateway:
        try:
            ip_address(request.gateway)
        except ValueError as exc:
            raise InvalidNetworkError(f"invalid --gateway {request.gateway!r}: {exc}") from None
    if request.ip_range:
        span = _cidr("--ip-range", request.ip_range)
        fields["range_start"], fields["range_end"] = span[1], span[-2]
    return fields


def _bool(text: str, key: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise InvalidNetworkError(f"invalid option {key}={text!r}: not a boolean")


def _cidr(flag: str, value: str) -> IPv4Network | IPv6Network:
    try:
        return ip_network(value, strict=False)
    except ValueError as exc:
        raise InvalidNetworkError(f"invalid {flag} {value!r}: {exc}") from None


def _view(cfg: NetworkConfig, driver: Driver) -> NetworkView:
    endpoints = tuple(
        {
            "container": r.container_id,
            "ifname": r.ifname,
            "ips": list(r.ips),
            "mac": r.mac,
            "ports": [p.to_json() for p in r.ports],
            "state": r.state,
        }
        for r in driver.endpoints(cfg.name)
    )
    return NetworkView(
        cfg.name, cfg.bridge, str(cfg.subnet), cfg.to_json(), endpoints, _given_options(cfg)
    )


def _given_options(cfg: NetworkConfig) -> tuple[tuple[str, str], ...]:
    """The options a config differs from the defaults by, in Docker's words and spelling."""
    defaults = network_config(cfg.name, cfg.subnet)
    given = []
    for option, field_name in OPTIONS.items():
        value = getattr(cfg, field_name)
        if value != getattr(defaults, field_name):
            given.append((option, str(value).lower() if isinstance(value, bool) else str(value)))
    return tuple(given)
