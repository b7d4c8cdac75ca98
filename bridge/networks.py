"""Network lifecycle: create (validated against others and the host's routes), ensure, delete."""

import contextlib
import socket
from ipaddress import IPv4Network, IPv6Network, ip_network

from bridge.config import NetworkConfig
from bridge.errors import NetworkExistsError, NetworkInUseError, OverlapError
from bridge.host import Host
from bridge.link import delete_link, ensure_bridge, lookup
from bridge.nftops import run_deletes
from netns import call_in


def check_conflicts(host: Host, cfg: NetworkConfig) -> None:
    """Name, bridge and subnet must not clash with another network or a host route."""
    for other in host.state.networks():
        if other.name == cfg.name:
            raise NetworkExistsError(f"create network {cfg.name!r}: it already exists")
        if other.bridge == cfg.bridge:
            raise NetworkExistsError(
                f"create network {cfg.name!r}: bridge {cfg.bridge!r} belongs to {other.name!r}"
            )
        for mine, theirs in ((cfg.subnet, other.subnet), (cfg.subnet6, other.subnet6)):
            if mine is not None and theirs is not None and mine.overlaps(theirs):
                raise OverlapError(
                    f"create network {cfg.name!r}: subnet {mine} overlaps {theirs} of "
                    f"network {other.name!r}"
                )
    if lookup(host.ipr, cfg.bridge) is not None:
        raise NetworkExistsError(f"create network {cfg.name!r}: link {cfg.bridge!r} exists")
    for route in host.ipr.get_routes(family=socket.AF_INET):
        dst = route.get_attr("RTA_DST")
        if dst is None or route["dst_len"] == 0 or route.get_attr("RTA_TABLE") != 254:
            continue
        net = ip_network(f"{dst}/{route['dst_len']}", strict=False)
        if net.overlaps(cfg.subnet):
            raise OverlapError(
                f"create network {cfg.name!r}: subnet {cfg.subnet} overlaps host route {net}"
            )


def _sysctls(host: Host, cfg: NetworkConfig) -> None:
    def write() -> None:
        values = []
        if host.forwarding and not cfg.internal:
            values.append(("net/ipv4/ip_forward", "1"))
            if cfg.subnet6 is not None:
                values.append(("net/ipv6/conf/all/forwarding", "1"))
        if cfg.hairpin:
            values.append((f"net/ipv4/conf/{cfg.bridge}/route_localnet", "1"))
        if cfg.subnet6 is not None:
            values.append((f"net/ipv6/conf/{cfg.bridge}/accept_ra", "0"))
            # The gateway address is already NODAD; DAD on the bridge's own link-local address
            # (about 1 s after its first port comes up) cost the first forwarded connection
            # two SYN retransmissions. Set before the first port, so it applies from the start.
            values.append((f"net/ipv6/conf/{cfg.bridge}/accept_dad", "0"))
        for key, value in values:
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)

    call_in(host.netns, write)


def ensure_network(
    host: Host, cfg: NetworkConfig, *, base: bool = True, quick: bool = False
) -> None:
    """Make the kernel match `cfg` (bridge, addresses, sysctls, nft chains); idempotent.

    `quick`: when this very configuration was ensured before and its bridge exists, only
    re-assert the nft part (cheap, and it heals a flushed ruleset) and skip the netlink checks.
    """
    if quick and host.state.load_network(cfg.name) == cfg and host.rtnl.index(cfg.bridge):
        host.ensure_rules([*(host.render.base() if base else []), *host.render.network(cfg)])
        return
    with contextlib.ExitStack() as undo:
        existed = lookup(host.ipr, cfg.bridge) is not None
        ensure_bridge(host.ipr, cfg)
        if not existed:
            undo.callback(delete_link, host.ipr, cfg.bridge)
        _sysctls(host, cfg)
        host.ensure_rules([*(host.render.base() if base else []), *host.render.network(cfg)])
        host.state.save_network(cfg)
        undo.pop_all()


def create_network(host: Host, cfg: NetworkConfig) -> NetworkConfig:
    """Create a new network; any clash raises before anything changes."""
    with host.state.lock():
        check_conflicts(host, cfg)
        ensure_network(host, cfg)
    return cfg


def delete_network(host: Host, name: str) -> None:
    """Remove an empty network: nft chains, bridge, leases directory, record."""
    # Exclusive op lock first (the order ADD uses): no ADD is half-way on this network.
    with host.state.op_lock(exclusive=True), host.state.lock():
        cfg = host.network(name)
        if users := host.state.endpoints(name):
            ids = ", ".join(sorted({r.container_id for r in users})[:5])
            raise NetworkInUseError(
                f"delete network {name!r}: {len(users)} endpoint(s) still attached ({ids})"
            )
        run_deletes(host, host.render.delete_network(cfg))
        delete_link(host.ipr, cfg.bridge)
        host.store(cfg).remove_if_empty()
        host.state.delete_network(name)
        if not host.state.networks():
            # The last one: drop our tables too. Their nat hooks would otherwise keep
            # connection tracking on for every flow of the host, loopback included.
            host.nft.run(host.render.delete_tables())


def prune(host: Host) -> list[str]:
    """Delete every network without endpoints; return their names."""
    gone = []
    for cfg in host.state.networks():
        if not host.state.endpoints(cfg.name):
            with contextlib.suppress(NetworkInUseError):
                delete_network(host, cfg.name)
                gone.append(cfg.name)
    return gone


# Docker's local default pools, split the same way (spec section 1.4).
DEFAULT_POOLS = (
    *(f"172.{n}.0.0/16" for n in range(17, 32)),
    *(f"192.168.{n}.0/20" for n in range(0, 256, 16)),
)


def pick_subnet(host: Host, pools: tuple[str, ...] = DEFAULT_POOLS) -> str:
    """The first pool that overlaps no network of ours and no route of the host."""
    taken: list[IPv4Network | IPv6Network] = [c.subnet for c in host.state.networks()]
    for route in host.ipr.get_routes(family=socket.AF_INET):
        dst = route.get_attr("RTA_DST")
        if dst is not None and route["dst_len"]:
            taken.append(ip_network(f"{dst}/{route['dst_len']}", strict=False))
    for pool in pools:
        net = ip_network(pool)
        if not any(net.overlaps(t) for t in taken):
            return pool
    raise OverlapError(
        "could not find an available, non-overlapping IPv4 address pool among the defaults"
    )
