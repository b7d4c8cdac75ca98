"""The six CNI verbs over a `Driver`; each returns the JSON object to print (or None)."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from bridge.cni.conf import CniCall, leases_dir, network_of, request_of, state_root
from bridge.cni.errors import NOT_AVAILABLE, UNKNOWN_CONTAINER, CniError
from bridge.config import NetworkConfig
from bridge.driver import Driver
from bridge.errors import EndpointNotFoundError, NetworkInUseError
from bridge.ipam import Pool
from bridge.state import EndpointRecord


def driver_for(raw: dict[str, Any]) -> Driver:
    return Driver(
        state_root(raw), table=str(raw.get("nftTable") or "pybridge"), leases=leases_dir(raw)
    )


def _mac(driver: Driver, name: str) -> str:
    found = driver.host.rtnl.link(name)
    return found[1] if found else ""


def result_of(
    call: CniCall, cfg: NetworkConfig, rec: EndpointRecord, driver: Driver
) -> dict[str, Any]:
    """The ADD result, appended to prevResult's interfaces/ips/routes when there is one."""
    prev = call.raw.get("prevResult") or {}
    interfaces = list(prev.get("interfaces") or [])
    base = len(interfaces)
    interfaces += [
        {"name": cfg.bridge, "mac": _mac(driver, cfg.bridge)},
        {"name": rec.host_veth, "mac": _mac(driver, rec.host_veth)},
        {"name": rec.ifname, "mac": rec.mac, "sandbox": rec.netns},
    ]
    ips = list(prev.get("ips") or [])
    routes = list(prev.get("routes") or [])
    for ip in rec.ips:
        addr = ipaddress.ip_address(ip)
        net = cfg.subnet if addr.version == 4 else cfg.subnet6
        gw = cfg.gateway if addr.version == 4 else cfg.gateway6
        entry: dict[str, Any] = {
            "address": f"{ip}/{net.prefixlen if net else 32}",
            "interface": base + 2,
        }
        if gw is not None:
            entry["gateway"] = str(gw)
        if call.version.startswith("0."):
            entry["version"] = str(addr.version)
        ips.append(entry)
        if cfg.default_route and gw is not None:
            routes.append({"dst": "0.0.0.0/0" if addr.version == 4 else "::/0", "gw": str(gw)})
    out: dict[str, Any] = {"cniVersion": call.version, "interfaces": interfaces, "ips": ips}
    if routes:
        out["routes"] = routes
    dns = call.raw.get("dns") or prev.get("dns")
    out["dns"] = dns or {}
    return out


def add(call: CniCall) -> dict[str, Any]:
    cfg = network_of(call.raw)
    req = request_of(call)
    with driver_for(call.raw) as driver:
        rec = driver.add_endpoint(cfg, req, ensure=True)
        return result_of(call, cfg, rec, driver)


def delete(call: CniCall) -> None:
    """Remove the endpoint; the last one takes its network along (chains, bridge, record).

    The reference plugin drops its masquerade rule with the container; a network chain naming
    the subnet must not outlive the network's last container either. Podman's netavark removes
    the bridge with its last container too; the next ADD re-creates them all (it ensures the
    network). An ADD racing this DEL holds the shared op lock that `delete_network` takes
    exclusively, so a network gaining an endpoint is never removed (NetworkInUseError).
    """
    cfg = network_of(call.raw)
    with driver_for(call.raw) as driver:
        if driver.host.state.load_network(cfg.name) is None:
            return  # never added here: nothing to do
        driver.remove_endpoint(cfg.name, call.container_id, call.ifname)
        with contextlib.suppress(NetworkInUseError):
            driver.delete_network(cfg.name)


def check(call: CniCall) -> None:
    cfg = network_of(call.raw)
    with driver_for(call.raw) as driver:
        try:
            driver.host.network(cfg.name)
            driver.check_endpoint(cfg.name, call.container_id, call.ifname)
        except EndpointNotFoundError as exc:
            raise CniError(UNKNOWN_CONTAINER, str(exc)) from None
        rec = driver.host.state.load_endpoint(cfg.name, call.container_id, call.ifname)
        prev = call.raw.get("prevResult") or {}
        wanted = {str(i.get("address", "")).split("/")[0] for i in prev.get("ips") or []}
        if rec is not None and wanted and not set(rec.ips) & wanted:
            raise CniError(UNKNOWN_CONTAINER, "check: prevResult addresses are not ours")


def gc(call: CniCall) -> None:
    cfg = network_of(call.raw)
    valid = {
        (str(a.get("containerID")), str(a.get("ifname")))
        for a in call.raw.get("cni.dev/valid-attachments") or []
        if isinstance(a, dict)
    }
    with driver_for(call.raw) as driver:
        if driver.host.state.load_network(cfg.name) is not None:
            driver.gc(valid, network=cfg.name)


def status(call: CniCall) -> None:
    if not call.raw:
        return
    cfg = network_of(call.raw)
    with driver_for(call.raw) as driver:
        store = driver.host.store(cfg)
        pool = Pool.of(cfg.subnet, cfg.gateway, cfg.range_start, cfg.range_end)
        used = store.used()
        free = any(str(a) not in used for a in pool.candidates(None))
        if not free:
            raise CniError(NOT_AVAILABLE, f"network {cfg.name!r}: no free address in {pool}")
