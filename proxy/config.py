"""ProxyConfig: built once from the command line, immutable afterwards."""

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from proxy import flags
from proxy.errors import ConfigError, FlagError

Proto = Literal["tcp", "udp", "sctp"]

PROTOS: tuple[Proto, ...] = ("tcp", "udp", "sctp")
LOOP_NAMES = ("epoll", "uvloop", "asyncio")
# auto: shared when a parent waits on fd 3 (dockerd, our engine), standalone in a terminal.
MODE_NAMES = ("auto", "standalone", "shared")
RELAY_NAMES = ("auto", "splice", "copy")
DEFAULT_UDP_TIMEOUT = 90.0

FLAGS = (
    flags.Flag("proto", "string", "tcp", "proxy protocol"),
    flags.Flag("host-ip", "string", "0.0.0.0", "host ip"),
    flags.Flag("host-port", "int", -1, "host port"),
    flags.Flag("container-ip", "string", "0.0.0.0", "container ip"),
    flags.Flag("container-port", "int", -1, "container port"),
    flags.Flag("use-listen-fd", "bool", False, "use a listening socket supplied by the parent"),
    flags.Flag("v", "bool", False, "print version information and exit"),
    flags.Flag("version", "bool", False, "print version information and exit"),
    flags.Flag(
        "map",
        "list",
        [],
        "extra mapping HOSTIP:HOSTPORT[-END]:CONTAINERIP:PORT[-END][/PROTO], repeatable "
        "(IPv6 in brackets)",
    ),
    flags.Flag("loop", "string", "epoll", "event loop: epoll (our own), uvloop or asyncio"),
    flags.Flag(
        "relay",
        "string",
        "auto",
        "TCP relay: auto (copy small messages, splice bulk flows), splice (zero-copy) or copy",
    ),
    flags.Flag("udp-timeout", "duration", DEFAULT_UDP_TIMEOUT, "UDP flow idle timeout"),
    flags.Flag(
        "mode",
        "string",
        "auto",
        "standalone, shared (hand the port to one hub process per user), or auto "
        "(shared when started with a readiness pipe); env PYPROXY_MODE",
    ),
    flags.Flag("hub", "bool", False, "internal: run the shared hub"),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address and port; `ip` is canonical text (IPv4-mapped IPv6 is stored as IPv4)."""

    ip: str
    port: int

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.ip else socket.AF_INET

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class Mapping:
    """One published port: traffic to `host` is relayed to `container`."""

    proto: Proto
    host: Endpoint
    container: Endpoint


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything the proxy process does, decided from its argv."""

    mappings: tuple[Mapping, ...]
    use_listen_fd: bool
    loop: str
    relay: str
    udp_timeout: float
    show_version: bool = False
    mode: str = "standalone"
    hub: bool = False

    def args_for(self, mapping: Mapping) -> list[str]:
        """The argv (without argv[0]) that serves `mapping` alone with these settings."""
        return [
            "-proto", mapping.proto,
            "-host-ip", mapping.host.ip, "-host-port", str(mapping.host.port),
            "-container-ip", mapping.container.ip,
            "-container-port", str(mapping.container.port),
            "-loop", self.loop, "-relay", self.relay, "-udp-timeout", f"{self.udp_timeout!r}s",
        ]  # fmt: skip


def parse_ip(text: str) -> str | None:
    """Go's net.ParseIP: canonical text, IPv4-mapped IPv6 folded to IPv4; None if invalid."""
    try:
        if ":" not in text:
            return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
        if "%" in text:
            return None  # Go's ParseIP rejects zones
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None
    if packed[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed)


def _ip_flag(name: str, text: str, empty: str) -> str:
    if text == "":
        return empty  # Go's TextVar leaves a nil IP, which listens and dials as the wildcard
    ip = parse_ip(text)
    if ip is None:
        raise FlagError(f'invalid value "{text}" for flag -{name}: invalid IP address: {text}')
    return ip


def _port_range(text: str, what: str) -> range:
    first, sep, last = text.partition("-")
    try:
        lo = flags.parse_go_int(first)
        hi = flags.parse_go_int(last) if sep else lo
    except ValueError:
        raise ConfigError(f"invalid {what} {text!r}: not a port or port range") from None
    if not (0 <= lo <= hi <= 65535):
        raise ConfigError(f"invalid {what} {text!r}: ports must be 0-65535, low to high")
    return range(lo, hi + 1)


def _split_spec(spec: str) -> list[str]:
    """Split HOSTIP:PORTS:CONTAINERIP:PORTS where IPv6 addresses come in brackets."""
    parts: list[str] = []
    rest = spec
    while rest:
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ConfigError(f"invalid mapping {spec!r}: unclosed '['")
            parts.append(rest[1:end])
            rest = rest[end + 1 :]
            if rest and not rest.startswith(":"):
                raise ConfigError(f"invalid mapping {spec!r}: expected ':' after ']'")
            rest = rest[1:]
        else:
            part, _, rest = rest.partition(":")
            parts.append(part)
    return parts


def parse_mapping_spec(spec: str, default_proto: str) -> list[Mapping]:
    """Expand one -map value into its mappings (a host range maps onto an equal container range)."""
    body, proto = spec, default_proto
    if "/" in spec:
        body, _, proto = spec.rpartition("/")
    if proto not in PROTOS:
        raise ConfigError(f"invalid mapping {spec!r}: unsupported protocol {proto!r}")
    parts = _split_spec(body)
    if len(parts) != 4:
        raise ConfigError(
            f"invalid mapping {spec!r}: want HOSTIP:HOSTPORT[-END]:CONTAINERIP:PORT[-END][/PROTO]"
        )
    host_text, host_ports, ctr_text, ctr_ports = parts
    host_ip = parse_ip(host_text) if host_text else "0.0.0.0"
    ctr_ip = parse_ip(ctr_text)
    if host_ip is None or ctr_ip is None:
        bad = host_text if host_ip is None else ctr_text
        raise ConfigError(f"invalid mapping {spec!r}: invalid IP address {bad!r}")
    hosts = _port_range(host_ports, "host port")
    ctrs = _port_range(ctr_ports, "container port")
    if len(ctrs) != len(hosts):
        raise ConfigError(
            f"invalid mapping {spec!r}: {len(hosts)} host ports but {len(ctrs)} container ports"
        )
    if 0 in ctrs:
        raise ConfigError(f"invalid mapping {spec!r}: container port 0")
    return [
        Mapping(proto, Endpoint(host_ip, h), Endpoint(ctr_ip, c))
        for h, c in zip(hosts, ctrs, strict=True)
    ]


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise FlagError(f'invalid value "{value}" for flag -{name}: want {" or ".join(choices)}')
    return value


def _value(values: dict[str, flags.Value], name: str) -> str:
    value = values[name]
    assert isinstance(value, str), name
    return value


def _number(values: dict[str, flags.Value], name: str) -> int:
    value = values[name]
    assert isinstance(value, int), name
    return value


def from_args(argv: Sequence[str], default_mode: str = "auto") -> ProxyConfig:
    """Build the config from argv (without argv[0]); `default_mode` is PYPROXY_MODE's value.

    Raises FlagError (exit 2, nothing on fd 3) for what Go's flag package rejects, and
    ConfigError (reported on fd 3, exit 1) for flags that parse but cannot be served.
    """
    values, given = flags.parse(FLAGS, argv)
    host_ip = _ip_flag("host-ip", _value(values, "host-ip"), "::")
    container_ip = _ip_flag("container-ip", _value(values, "container-ip"), "0.0.0.0")
    loop = _choice("loop", _value(values, "loop"), LOOP_NAMES)
    relay = _choice("relay", _value(values, "relay"), RELAY_NAMES)
    mode = _value(values, "mode") if "mode" in given else default_mode
    mode = _choice("mode", mode, MODE_NAMES)
    udp_timeout = values["udp-timeout"]
    assert isinstance(udp_timeout, float)
    if udp_timeout <= 0:
        raise FlagError(f"invalid value for flag -udp-timeout: {udp_timeout:g}s is not positive")
    if values["v"] or values["version"]:
        return ProxyConfig(
            (),
            use_listen_fd=False,
            loop=loop,
            relay=relay,
            udp_timeout=udp_timeout,
            show_version=True,
        )
    if values["hub"]:
        return ProxyConfig((), use_listen_fd=False, loop=loop, relay=relay, udp_timeout=0, hub=True)
    proto = _value(values, "proto")
    specs = values["map"]
    assert isinstance(specs, list)

    mappings: list[Mapping] = []
    # docker-proxy's five flags always describe one mapping; with -map they are optional.
    if not specs or given & {"host-port", "container-port", "host-ip", "container-ip"}:
        if proto not in PROTOS:
            raise ConfigError(f"unsupported protocol {proto}")
        container_port = _number(values, "container-port")
        if not 1 <= container_port <= 65535:
            raise ConfigError(
                f"invalid container port {container_port}: must be between 1 and 65535"
            )
        mappings.append(
            Mapping(
                proto,
                Endpoint(host_ip, _number(values, "host-port")),
                Endpoint(container_ip, container_port),
            )
        )
    for spec in specs:
        mappings.extend(parse_mapping_spec(spec, proto if proto in PROTOS else "tcp"))
    return ProxyConfig(
        mappings=tuple(mappings),
        use_listen_fd=bool(values["use-listen-fd"]),
        loop=loop,
        relay=relay,
        udp_timeout=udp_timeout,
        mode=mode,
    )
