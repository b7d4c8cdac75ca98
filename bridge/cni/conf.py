"""Environment + stdin -> a validated `CniCall`; the reference bridge/host-local keys accepted.

Keys of the reference `bridge` plugin: bridge, isGateway, isDefaultGateway, forceAddress, ipMasq,
mtu, hairpinMode, promiscMode, forceAddress, enabledad (vlan, vlanTrunk, macspoofchk: code 2).
`ipam` in host-local's form: type "host-local", ranges [[{subnet, rangeStart, rangeEnd,
gateway}]] (a second range set may be IPv6), or the old subnet/rangeStart/rangeEnd/gateway keys,
routes, dataDir. Our own keys: dataDir (state root), nftTable, isolation, icc, vethPrefix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.cni.errors import (
    DECODE_FAILURE,
    INCOMPATIBLE_VERSION,
    INVALID_CONFIG,
    INVALID_ENV,
    UNSUPPORTED_FIELD,
    CniError,
)
from bridge.config import NetworkConfig, PortMapping
from bridge.errors import ConfigError
from bridge.patterns import is_name

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")
REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "GC": ("CNI_PATH",),
    "VERSION": (),
    "STATUS": (),
}
DEFAULT_ROOT = "/var/lib/cni/pybridge"
UNSUPPORTED_KEYS = ("vlan", "vlanTrunk", "macspoofchk", "ipMasqBackend", "portIsolation")


@dataclass(frozen=True)
class CniCall:
    """One invocation: the command, its environment and the parsed network configuration."""

    command: str
    version: str
    raw: dict[str, Any]
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: tuple[tuple[str, str], ...] = ()


def parse_env(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise CniError(INVALID_ENV, "required env variables [CNI_COMMAND] missing")
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND: {command}")
    missing = [k for k in REQUIRED[command] if not env.get(k)]
    if missing:
        raise CniError(INVALID_ENV, f"required env variables [{','.join(missing)}] missing")
    cid = env.get("CNI_CONTAINERID", "")
    if cid and not is_name(cid):
        raise CniError(INVALID_ENV, f"invalid CNI_CONTAINERID {cid!r}")
    return command, dict(env)


def parse_args(text: str) -> tuple[tuple[str, str], ...]:
    """CNI_ARGS: `K=V;K2=V2`."""
    pairs = []
    for part in text.split(";"):
        if part:
            key, sep, value = part.partition("=")
            if not sep:
                raise CniError(INVALID_ENV, f"invalid CNI_ARGS pair {part!r}: no '='")
            pairs.append((key, value))
    return tuple(pairs)


def parse_call(env: Mapping[str, str], stdin: bytes) -> CniCall:
    command, env = parse_env(env)
    raw: dict[str, Any] = {}
    if stdin.strip() or command not in ("VERSION", "STATUS"):
        try:
            raw = json.loads(stdin or b"")
        except ValueError as exc:
            raise CniError(DECODE_FAILURE, f"decode network configuration: {exc}") from None
        if not isinstance(raw, dict):
            raise CniError(DECODE_FAILURE, "decode network configuration: not a JSON object")
    version = str(raw.get("cniVersion", "1.1.0"))
    if version not in SUPPORTED:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"incompatible CNI versions: config is {version!r}",
            f"plugin supports {list(SUPPORTED)}",
        )
    return CniCall(
        command=command,
        version=version,
        raw=raw,
        container_id=env.get("CNI_CONTAINERID", ""),
        netns=env.get("CNI_NETNS", ""),
        ifname=env.get("CNI_IFNAME", ""),
        args=parse_args(env.get("CNI_ARGS", "")),
    )


def version(call: CniCall) -> dict[str, Any]:
    """The VERSION answer (here, not in commands.py: it must not import the driver)."""
    return {"cniVersion": call.version, "supportedVersions": list(SUPPORTED)}


def _ranges(ipam: dict[str, Any]) -> list[dict[str, Any]]:
    """The first range of each range set (we allocate one address per family)."""
    if "ranges" in ipam:
        sets = ipam["ranges"]
        if not isinstance(sets, list) or not all(isinstance(s, list) and s for s in sets):
            raise CniError(INVALID_CONFIG, "invalid ipam.ranges: need a list of range lists")
        return [s[0] for s in sets]
    if "subnet" in ipam:
        return [{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}]
    raise CniError(INVALID_CONFIG, "invalid ipam: no ranges and no subnet")


def network_of(raw: dict[str, Any]) -> NetworkConfig:
    """The NetworkConfig a CNI configuration describes (ConfigError -> code 7)."""
    # bridge.config (ipaddress...) is imported by the verbs that need it, not by VERSION.
    from bridge.config import network_config  # noqa: PLC0415

    for key in UNSUPPORTED_KEYS:
        if raw.get(key):
            raise CniError(UNSUPPORTED_FIELD, f"unsupported field {key!r}")
    if raw.get("hairpinMode") and raw.get("promiscMode"):
        raise CniError(INVALID_CONFIG, "cannot set hairpin mode and promiscuous mode at once")
    ipam = raw.get("ipam")
    if not isinstance(ipam, dict) or ipam.get("type") not in ("host-local", "pybridge"):
        raise CniError(INVALID_CONFIG, 'invalid ipam: type must be "host-local"')
    ranges = _ranges(ipam)
    v4 = next((r for r in ranges if ":" not in str(r.get("subnet", ""))), None)
    v6 = next((r for r in ranges if ":" in str(r.get("subnet", ""))), None)
    if v4 is None:
        raise CniError(INVALID_CONFIG, "invalid ipam.ranges: no IPv4 range")
    default_gw = bool(raw.get("isDefaultGateway"))
    routes = ipam.get("routes") or []
    default_route = default_gw or any(
        isinstance(r, dict) and r.get("dst") in ("0.0.0.0/0", "::/0") for r in routes
    )
    try:
        return network_config(
            str(raw.get("name", "")),
            v4.get("subnet"),
            gateway=v4.get("gateway"),
            range_start=v4.get("rangeStart"),
            range_end=v4.get("rangeEnd"),
            subnet6=v6.get("subnet") if v6 else None,
            gateway6=v6.get("gateway") if v6 else None,
            bridge=str(raw.get("bridge") or "cni0"),
            mtu=raw.get("mtu", 0),
            masquerade=bool(raw.get("ipMasq")),
            hairpin=bool(raw.get("hairpinMode")),
            promisc=bool(raw.get("promiscMode")),
            gateway_on_bridge=bool(raw.get("isGateway")) or default_gw,
            default_route=default_route,
            isolate=bool(raw.get("isolation", False)),
            icc=bool(raw.get("icc", True)),
            veth_prefix=str(raw.get("vethPrefix", "veth")),
            policy="round-robin",
        )
    except ConfigError as exc:
        raise CniError(INVALID_CONFIG, str(exc)) from None


def ports_of(raw: dict[str, Any]) -> list[PortMapping]:
    from bridge.config import port_mapping  # noqa: PLC0415 - as in network_of

    mappings = (raw.get("runtimeConfig") or {}).get("portMappings") or []
    try:
        return [
            port_mapping(
                m.get("hostPort"), m.get("containerPort"), m.get("protocol", "tcp"), m.get("hostIP")
            )
            for m in mappings
        ]
    except (ConfigError, AttributeError) as exc:
        raise CniError(INVALID_CONFIG, f"invalid runtimeConfig.portMappings: {exc}") from None


def request_of(call: CniCall) -> Any:
    """The EndpointRequest of an ADD: CNI_ARGS IP=/MAC=, args.cni.ips/mac, runtimeConfig."""
    from bridge.config import endpoint_request  # noqa: PLC0415 - as in network_of

    args = dict(call.args)
    rc = call.raw.get("runtimeConfig") or {}
    cni_args = (call.raw.get("args") or {}).get("cni") or {}
    ips = rc.get("ips") or cni_args.get("ips") or ([args["IP"]] if "IP" in args else [])
    mac = rc.get("mac") or cni_args.get("mac") or args.get("MAC")
    try:
        return endpoint_request(
            call.container_id,
            call.netns,
            call.ifname,
            mac=mac,
            ip=str(ips[0]).split("/")[0] if ips else None,
            ports=ports_of(call.raw),
        )
    except ConfigError as exc:
        raise CniError(INVALID_CONFIG, str(exc)) from None


def state_root(raw: dict[str, Any]) -> str:
    return str(raw.get("dataDir") or os.environ.get("PYBRIDGE_ROOT") or DEFAULT_ROOT)


def leases_dir(raw: dict[str, Any]) -> str | None:
    ipam = raw.get("ipam") or {}
    return str(ipam["dataDir"]) if isinstance(ipam, dict) and ipam.get("dataDir") else None
