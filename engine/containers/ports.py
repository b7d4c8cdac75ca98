"""`-p [ip:][hostPort[-end]:]containerPort[-end][/proto]`, parsed as Docker's go-connections does.

A host range against one container port is a pool to pick one free port from (Docker's
behaviour); equal-length ranges map one to one; anything else is refused with Docker's message.
"""

import ipaddress
from dataclasses import dataclass

from engine.containers.errors import InvalidOptionError

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, slots=True)
class PortBinding:
    """One published port: host_port 0 means any free port (from host_range when given)."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_range: tuple[int, int] | None = None

    def key(self) -> str:
        """Docker's port key, `80/tcp`."""
        return f"{self.container_port}/{self.proto}"


def _port_range(text: str, what: str) -> tuple[int, int]:
    start_text, sep, end_text = text.partition("-")
    try:
        start = int(start_text, 10)
        end = int(end_text, 10) if sep else start
    except ValueError:
        raise InvalidOptionError(f"invalid {what}: {text}") from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise InvalidOptionError(f"invalid {what}: {text}")
    return start, end


def _split_ip(spec: str) -> tuple[str, str]:
    """Cut the host IP (bracketed when IPv6) off `ip:rest`; return (ip, rest)."""
    if spec.startswith("["):
        end = spec.find("]:")
        if end < 0:
            raise InvalidOptionError(f"invalid ip address: {spec}")
        return spec[1:end], spec[end + 2 :]
    parts = spec.split(":")
    if len(parts) == 3:
        return parts[0], f"{parts[1]}:{parts[2]}"
    if len(parts) > 3:
        # An unbracketed IPv6 address: everything before the last two fields.
        return ":".join(parts[:-2]), ":".join(parts[-2:])
    return "", spec


def parse_publish(spec: str) -> list[PortBinding]:
    """Expand one `-p` value into bindings, one per container port."""
    raw, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidOptionError(f"invalid proto: {proto}")
    ip, rest = _split_ip(raw)
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidOptionError(f"invalid ip address: {ip}") from None
    host_text, sep, ctr_text = rest.rpartition(":")
    if not sep:
        host_text, ctr_text = "", rest
    if not ctr_text:
        raise InvalidOptionError(f"no port specified: {spec}<empty>")
    c_start, c_end = _port_range(ctr_text, "containerPort")
    if c_start == 0:
        raise InvalidOptionError(f"invalid containerPort: {ctr_text}")
    if not host_text:
        return [
            PortBinding(container_port=p, proto=proto, host_ip=ip)
            for p in range(c_start, c_end + 1)
        ]
    h_start, h_end = _port_range(host_text, "hostPort")
    if c_start == c_end and h_end > h_start:
        return [
            PortBinding(
                container_port=c_start, proto=proto, host_ip=ip, host_range=(h_start, h_end)
            )
        ]
    if h_end - h_start != c_end - c_start:
        raise InvalidOptionError(
            f"invalid ranges specified for container and host Ports: {ctr_text} and {host_text}"
        )
    return [
        PortBinding(container_port=c, proto=proto, host_ip=ip, host_port=h_start + i)
        for i, c in enumerate(range(c_start, c_end + 1))
    ]


def parse_exposed(spec: str) -> tuple[int, str]:
    """An image's or `--expose`'s `80/tcp` as (port, proto)."""
    port_text, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidOptionError(f"invalid proto: {proto}")
    start, _end = _port_range(port_text, "containerPort")
    return start, proto
