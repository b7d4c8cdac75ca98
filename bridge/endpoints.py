"""Endpoint ADD/DEL/CHECK and port publishing, each step undone in reverse if a later one fails.

ADD order (what a kill -9 can leave, and who cleans it): lease (GC: lease without record),
record "adding" (GC: tears down what it names), veth pair, addresses and routes, nft elements
(one transaction), record "ready". DEL runs it backwards and keeps the record until the end, so
an interrupted DEL is finished by the next DEL or by GC.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterable
from typing import Any

import netns
from bridge.announce import announce
from bridge.config import EndpointRequest, NetworkConfig, PortMapping, check_unique_ports
from bridge.errors import (
    EndpointExistsError,
    EndpointNotFoundError,
    NamespaceMissingError,
    PortConflictError,
)
from bridge.host import Host, host_veth_name
from bridge.ipam import Owner
from bridge.link import (
    IFA_F_NODAD,
    add_veth,
    configure_peer,
    delete_links_batched,
    random_mac,
)
from bridge.link import (
    netlink as netlink_errors,
)
from bridge.networks import ensure_network
from bridge.nftops import elem_key, present_objects, run_deletes
from bridge.nftrender import Cmd
from bridge.rtnl import Rtnl
from bridge.state import EndpointRecord


def _open_ns(ref: str) -> tuple[int, Rtnl]:
    try:
        fd = netns.open_fd(ref)
    except netns.NetnsError as exc:
        raise NamespaceMissingError(f"open container namespace {ref!r}: {exc}") from exc
    try:
        return fd, Rtnl(netns.netlink_in(ref))
    except BaseException:
        os.close(fd)
        raise


def published(host: Host, skip: tuple[str, str, str] | None = None) -> dict[Any, str]:
    """Every published (proto, host ip, port) -> "network/container/ifname"."""
    taken = {}
    for rec in host.state.endpoints():
        if skip == (rec.network, rec.container_id, rec.ifname):
            continue
        for p in rec.ports:
            taken[p.key] = f"{rec.network}/{rec.container_id}/{rec.ifname}"
    return taken


def check_ports(taken: dict[Any, str], ports: Iterable[PortMapping]) -> None:
    """A wildcard port clashes with every host IP on that port, and the reverse."""
    for p in ports:
        proto, ip, port = p.key
        for (t_proto, t_ip, t_port), who in taken.items():
            if t_proto == proto and t_port == port and (not ip or not t_ip or ip == t_ip):
                where = f"{t_ip or '0.0.0.0'}:{port}/{proto}"
                raise PortConflictError(
                    f"publish {p.host_ip or '0.0.0.0'}:{port}/{proto}: "
                    f"{where} is already published by {who}"
                )


def add_endpoint(
    host: Host, cfg: NetworkConfig, req: EndpointRequest, *, ensure: bool = False
) -> EndpointRecord:
    """Wire the container's namespace to the network; return the ready record. `ensure`
    first makes the network match `cfg` (CNI passes the configuration on every call)."""
    state = host.state
    with state.op_lock(), contextlib.ExitStack() as res:
        if state.load_endpoint(cfg.name, req.container_id, req.ifname) is not None:
            raise EndpointExistsError(
                f"add endpoint {req.container_id}/{req.ifname}: already on {cfg.name!r}"
            )
        fd, rtnl_ns = _open_ns(req.netns)
        res.callback(os.close, fd)
        res.callback(rtnl_ns.close)
        if rtnl_ns.index(req.ifname) is not None:
            raise EndpointExistsError(
                f"add endpoint {req.container_id}: interface {req.ifname!r} already exists "
                f"in {req.netns}"
            )
        # Looked up every time (50 us): another process may have re-created the bridge.
        bridge_index = host.rtnl.index(cfg.bridge)
        if bridge_index is None or ensure:
            ensure_network(host, cfg, quick=ensure)
            bridge_index = host.rtnl.index(cfg.bridge)
        store = host.store(cfg)
        owner = Owner(req.container_id, req.ifname)
        with contextlib.ExitStack() as undo:
            ips = []
            with store.locked():  # released before any undo runs: _release locks again
                for i, alloc in enumerate(host.allocators(cfg, store)):
                    ip = alloc.allocate(owner, req.ip if i == 0 else None)
                    undo.callback(_release, store, str(ip))
                    ips.append(ip)
            rec = EndpointRecord(
                network=cfg.name,
                container_id=req.container_id,
                ifname=req.ifname,
                netns=req.netns,
                host_veth=host_veth_name(cfg, req.container_id, req.ifname),
                ips=tuple(str(ip) for ip in ips),
                mac=req.mac or random_mac(),
                ports=req.ports,
            )
            state.save_endpoint(rec)
            undo.callback(state.delete_endpoint, cfg.name, req.container_id, req.ifname)
            add_veth(
                host.rtnl,
                host_name=rec.host_veth,
                peer_name=req.ifname,
                ns_fd=fd,
                bridge_index=int(bridge_index or 0),
                mtu=cfg.mtu,
                mac=rec.mac,
                hairpin=cfg.hairpin,
            )
            undo.callback(host.rtnl.delete, rec.host_veth)
            addrs = [(str(ips[0]), cfg.subnet.prefixlen, 0)]
            routes = []
            way_out = cfg.default_route and not cfg.internal and req.default_route
            if way_out:
                routes.append(str(cfg.gateway))
            if cfg.subnet6 is not None and len(ips) > 1:
                addrs.append((str(ips[1]), cfg.subnet6.prefixlen, IFA_F_NODAD))
                if way_out:
                    routes.append(str(cfg.gateway6))
            configure_peer(rtnl_ns, req.ifname, addrs, routes)
            announce(req.netns, req.ifname, rec.mac, str(ips[0]))
            cmds: list[Cmd] = [] if cfg.icc else host.render.icc_element("add", rec.host_veth)
            if req.ports:
                with state.lock():
                    check_ports(
                        published(host, skip=(cfg.name, rec.container_id, rec.ifname)), req.ports
                    )
                    addr6 = str(ips[1]) if len(ips) > 1 else None
                    elems = host.render.port_elements("create", req.ports, str(ips[0]), addr6)
                    host.nft.run([*elems, *cmds])
            elif cmds:
                host.nft.run(cmds)
            rec = rec.with_(state="ready")
            state.save_endpoint(rec)
            undo.pop_all()
        return rec


def _release(store: Any, ip: str) -> None:
    with store.locked():
        store.release(ip)


def endpoint_deletes(host: Host, cfg: NetworkConfig, rec: EndpointRecord) -> list[Cmd]:
    cmds = []
    if rec.ports and rec.ipv4:
        cmds += host.render.port_elements("delete", rec.ports, rec.ipv4, rec.ipv6)
    if not cfg.icc:
        cmds += host.render.icc_element("delete", rec.host_veth)
    return cmds


def remove_endpoints(host: Host, recs: list[EndpointRecord], *, batched: bool = True) -> None:
    """Tear endpoints down: one nft transaction, one grouped link delete, leases, records."""
    if not recs:
        return
    cfgs = {r.network: host.network(r.network) for r in recs}
    run_deletes(host, [c for r in recs for c in endpoint_deletes(host, cfgs[r.network], r)])
    names = [r.host_veth for r in recs]
    if batched and len(names) > 1:
        delete_links_batched(host.ipr, names)
    else:
        for name in names:
            with netlink_errors(f"delete link {name!r}"):
                host.rtnl.delete(name)
    for network, cfg in cfgs.items():
        store = host.store(cfg)
        with store.locked():
            for r in recs:
                if r.network == network:
                    for ip in r.ips:
                        if store.owner(ip) in (None, Owner(r.container_id, r.ifname)):
                            store.release(ip)
    for r in recs:
        host.state.delete_endpoint(r.network, r.container_id, r.ifname)


def remove_endpoint(host: Host, network: str, container_id: str, ifname: str) -> bool:
    """DEL: idempotent; False if there was nothing to remove."""
    with host.state.op_lock():
        rec = host.state.load_endpoint(network, container_id, ifname)
        if rec is None:
            return False
        remove_endpoints(host, [rec], batched=False)
        return True


def publish(
    host: Host, cfg: NetworkConfig, container_id: str, ifname: str, ports: list[PortMapping]
) -> EndpointRecord:
    """Publish more ports of a ready endpoint in one transaction."""
    state = host.state
    with state.op_lock(), state.lock():
        rec = state.load_endpoint(cfg.name, container_id, ifname)
        if rec is None or rec.ipv4 is None:
            raise EndpointNotFoundError(f"publish ports of {container_id}/{ifname}: no endpoint")
        check_unique_ports((*rec.ports, *ports))
        check_ports(published(host, skip=(cfg.name, container_id, ifname)), ports)
        host.nft.run(host.render.port_elements("create", tuple(ports), rec.ipv4, rec.ipv6))
        rec = rec.with_(ports=(*rec.ports, *ports))
        state.save_endpoint(rec)
        return rec


def unpublish(
    host: Host, cfg: NetworkConfig, container_id: str, ifname: str, ports: list[PortMapping]
) -> EndpointRecord:
    """Remove exactly these mappings of this endpoint."""
    state = host.state
    with state.op_lock(), state.lock():
        rec = state.load_endpoint(cfg.name, container_id, ifname)
        if rec is None or rec.ipv4 is None:
            raise EndpointNotFoundError(f"unpublish ports of {container_id}/{ifname}: no endpoint")
        have = set(rec.ports)
        mine = [p for p in ports if p in have]
        gone = set(mine)
        run_deletes(host, host.render.port_elements("delete", tuple(mine), rec.ipv4, rec.ipv6))
        rec = rec.with_(ports=tuple(p for p in rec.ports if p not in gone))
        state.save_endpoint(rec)
        return rec


def check_endpoint(host: Host, cfg: NetworkConfig, container_id: str, ifname: str) -> None:
    """CNI CHECK: the record, both veth ends, the address and every nft element are there."""
    rec = host.state.load_endpoint(cfg.name, container_id, ifname)
    what = f"check endpoint {container_id}/{ifname}"
    if rec is None or rec.state != "ready":
        raise EndpointNotFoundError(f"{what}: not attached to {cfg.name!r}")
    # Our own netlink client, not pyroute2: importing pyroute2 costs more than 100 ms, in
    # every exec'd CNI CHECK.
    if host.rtnl.index(rec.host_veth) is None:
        raise EndpointNotFoundError(f"{what}: host veth {rec.host_veth!r} is missing")
    try:
        rtnl_ns = Rtnl(netns.netlink_in(rec.netns))
    except netns.NetnsError as exc:
        raise EndpointNotFoundError(f"{what}: namespace {rec.netns!r} is gone") from exc
    try:
        index = rtnl_ns.index(ifname)
        if index is None:
            raise EndpointNotFoundError(f"{what}: {ifname!r} is missing in {rec.netns}")
        have = rtnl_ns.addresses(index)
        for ip in rec.ips:
            if ipaddress.ip_address(ip).compressed not in have:
                raise EndpointNotFoundError(f"{what}: address {ip} is missing on {ifname!r}")
    finally:
        rtnl_ns.close()
    if rec.ports and rec.ipv4:
        present = present_objects(host)
        for cmd in host.render.port_elements("delete", rec.ports, rec.ipv4, rec.ipv6):
            spec = cmd["delete"]["element"]
            have_keys = present.get(("inet", "elem", spec["name"]), set())
            if any(elem_key(e) not in have_keys for e in spec["elem"]):
                raise EndpointNotFoundError(f"{what}: published ports missing from nftables")
