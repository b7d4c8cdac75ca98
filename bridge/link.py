"""Bridges and veth pairs through pyroute2 netlink (never by forking `ip`).

`ensure_bridge` is idempotent (creates, or verifies what exists); `delete_link` tolerates
absence; `add_veth` creates the pair with its peer already inside the container's namespace,
enslaved and sized in one RTM_NEWLINK; `configure_peer` addresses it from a netlink socket
opened in that namespace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from typing import Any

from bridge.config import NetworkConfig
from bridge.errors import KernelError, NetworkExistsError
from bridge.rtnl import Batch, Rtnl

IFA_F_NODAD = 0x02
IFF_PROMISC = 0x100


@contextlib.contextmanager
def netlink(what: str) -> Iterator[None]:
    """Turn pyroute2's NetlinkError/OSError into KernelError naming the operation."""
    try:
        yield
    except OSError as exc:
        raise KernelError(f"{what}: {exc.strerror or exc}", exc.errno or 0) from exc
    except Exception as exc:
        # Matched by name: importing pyroute2 costs 170 ms, which the CNI hot path avoids.
        code = getattr(exc, "code", None)
        if type(exc).__name__ != "NetlinkError" or not isinstance(code, int):
            raise
        raise KernelError(f"{what}: {os.strerror(code)}", code) from exc


def random_mac() -> str:
    """A random locally administered unicast MAC (what Docker >= 28 gives endpoints)."""
    b = bytearray(secrets.token_bytes(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def lookup(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def link_kind(ipr: Any, index: int) -> str | None:
    (msg,) = ipr.get_links(index)
    info = msg.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def ensure_bridge(ipr: Any, cfg: NetworkConfig) -> int:
    """Create (or verify) the bridge with its gateway addresses, UP; return its index."""
    index = lookup(ipr, cfg.bridge)
    if index is not None and link_kind(ipr, index) != "bridge":
        raise NetworkExistsError(f"create bridge {cfg.bridge!r}: a non-bridge link has that name")
    if index is None:
        spec: dict[str, Any] = {"ifname": cfg.bridge, "kind": "bridge", "address": random_mac()}
        if cfg.mtu:
            spec["mtu"] = cfg.mtu
        with netlink(f"create bridge {cfg.bridge!r}"):
            try:
                ipr.link("add", **spec)
            except Exception as exc:  # a concurrent creator won: verify below
                if getattr(exc, "code", None) != errno.EEXIST:
                    raise
        index = lookup(ipr, cfg.bridge)
        if index is None:
            raise KernelError(f"create bridge {cfg.bridge!r}: it vanished after creation")
    with netlink(f"address bridge {cfg.bridge!r}"):
        if cfg.gateway_on_bridge:
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
            wanted: list[tuple[Any, int, int]] = [(cfg.gateway, cfg.subnet.prefixlen, 0)]
            if cfg.gateway6 is not None and cfg.subnet6 is not None:
                wanted.append((cfg.gateway6, cfg.subnet6.prefixlen, IFA_F_NODAD))
            for addr, plen, flags in wanted:
                if (str(addr), plen) not in have:
                    _add_addr(ipr, index, str(addr), plen, flags)
        if cfg.mtu:
            ipr.link("set", index=index, mtu=cfg.mtu)
        if cfg.promisc:
            ipr.link("set", index=index, flags=IFF_PROMISC, change=IFF_PROMISC)
        ipr.link("set", index=index, state="up")
    return index


def _add_addr(ipr: Any, index: int, addr: str, plen: int, flags: int = 0) -> None:
    kw: dict[str, Any] = {"index": index, "address": addr, "prefixlen": plen}
    if flags:
        kw["flags"] = flags
    try:
        ipr.addr("add", **kw)
    except Exception as exc:
        if getattr(exc, "code", None) != errno.EEXIST:
            raise


def delete_link(ipr: Any, name: str) -> bool:
    """Delete a link by name; False if it was not there."""
    index = lookup(ipr, name)
    if index is None:
        return False
    with netlink(f"delete link {name!r}"):
        try:
            ipr.link("del", index=index)
        except Exception as exc:
            if getattr(exc, "code", None) in (errno.ENODEV, errno.ENOENT):
                return False
            raise
    return True


def delete_links_batched(ipr: Any, names: list[str]) -> int:
    """Delete many links with one RTM_DELLINK by group: the kernel then unregisters them
    together and pays its RCU grace period once instead of once per link."""
    indexes = [i for i in (lookup(ipr, n) for n in names) if i is not None]
    if not indexes:
        return 0
    in_use = {int(m.get_attr("IFLA_GROUP") or 0) for m in ipr.get_links()}
    group = next(g for g in iter(lambda: secrets.randbelow(2**31 - 2) + 1, 0) if g not in in_use)
    with netlink(f"delete {len(indexes)} links"):
        for index in indexes:
            ipr.link("set", index=index, group=group)
        ipr.link("del", group=group)
    return len(indexes)


def add_veth(
    rtnl: Rtnl,
    *,
    host_name: str,
    peer_name: str,
    ns_fd: int,
    bridge_index: int,
    mtu: int,
    mac: str,
    hairpin: bool,
) -> int:
    """Create the pair, peer inside the namespace, host end enslaved and UP; return host index."""
    batch = Batch()
    batch.new_veth(
        name=host_name,
        peer=peer_name,
        ns_fd=ns_fd,
        master=bridge_index,
        mtu=mtu,
        mac=random_mac(),
        peer_mac=mac,
    )
    with netlink(f"create veth {host_name!r}"):
        index = rtnl.send(batch)
    if index is None:
        raise KernelError(f"create veth {host_name!r}: the kernel did not echo the new link")
    if hairpin:
        batch = Batch()
        batch.hairpin(index)
        with netlink(f"set hairpin on {host_name!r}"):
            rtnl.send(batch)
    return index


def configure_peer(
    rtnl_ns: Rtnl,
    ifname: str,
    addrs: list[tuple[str, int, int]],
    routes: list[str],
) -> None:
    """Address the container end, bring it UP, add default routes via `routes` (gateways)."""
    with netlink(f"configure {ifname!r}"):
        index = rtnl_ns.index(ifname)
        if index is None:
            raise KernelError(f"configure {ifname!r}: not found in the namespace")
        batch = Batch()
        for addr, plen, flags in addrs:
            batch.new_addr(index, addr, plen, flags)
        batch.link_up(index)
        for gateway in routes:
            batch.default_route(gateway, index)
        rtnl_ns.send(batch)
