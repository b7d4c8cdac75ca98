"""Reconcile everything we own against what really exists, after crashes or lost DELs.

One call: endpoint records that are half-made ("adding"), whose namespace or host veth is gone,
or (CNI GC) not in the caller's list of valid attachments are torn down; veths on our bridges
that no live record names are deleted; leases no live record holds are freed; temporary files
of killed writers are removed; and the nft table is re-created from the live records in one
transaction (which is also how `reload` restores it after `nft flush ruleset`).
"""

from collections.abc import Collection

import netns
from bridge.endpoints import remove_endpoints
from bridge.host import Host
from bridge.ipam import Owner
from bridge.link import delete_link
from bridge.state import EndpointRecord


class GcReport:
    """What one GC removed (a plain class: see record.py for why not a dataclass)."""

    def __init__(
        self,
        endpoints: list[str] | None = None,
        veths: list[str] | None = None,
        leases: list[str] | None = None,
    ) -> None:
        self.endpoints: list[str] = endpoints if endpoints is not None else []
        self.veths: list[str] = veths if veths is not None else []
        self.leases: list[str] = leases if leases is not None else []

    def __repr__(self) -> str:
        return (
            f"GcReport(endpoints={self.endpoints!r}, veths={self.veths!r}, leases={self.leases!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GcReport):
            return NotImplemented
        return (self.endpoints, self.veths, self.leases) == (
            other.endpoints,
            other.veths,
            other.leases,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, as its dataclass was

    @property
    def total(self) -> int:
        return len(self.endpoints) + len(self.veths) + len(self.leases)


def _alive(host: Host, rec: EndpointRecord, links: set[str]) -> bool:
    return rec.state == "ready" and rec.host_veth in links and netns.exists(rec.netns)


def reload(host: Host) -> None:
    """Re-create our nft tables from the recorded networks and ready endpoints (atomic)."""
    networks = host.state.networks()
    cfgs = {c.name: c for c in networks}
    pairs = [
        (cfgs[r.network], r)
        for r in host.state.endpoints()
        if r.state == "ready" and r.network in cfgs
    ]
    host.nft.run(host.render.full(networks, pairs))


def gc(
    host: Host,
    valid: Collection[tuple[str, str]] | None = None,
    network: str | None = None,
) -> GcReport:
    """Remove everything not backed by a live endpoint; `valid` (container id, ifname) pairs
    additionally limit which endpoints count as live (CNI GC); `network` limits the scope."""
    report = GcReport()
    state = host.state
    with state.op_lock(exclusive=True):
        state.sweep_temporaries()
        links = {str(m.get_attr("IFLA_IFNAME")): m for m in host.ipr.get_links()}
        live: list[EndpointRecord] = []
        dead: list[EndpointRecord] = []
        for rec in state.endpoints(network):
            keep = _alive(host, rec, set(links))
            if valid is not None and (rec.container_id, rec.ifname) not in valid:
                keep = False
            (live if keep else dead).append(rec)
        known = {c.name for c in state.networks()}
        dead_known = [r for r in dead if r.network in known]
        for r in dead:
            if r.network not in known:
                state.delete_endpoint(r.network, r.container_id, r.ifname)
        # The table is rebuilt below, so nft deletes are not needed here.
        remove_endpoints(host, dead_known)
        report.endpoints = [f"{r.network}/{r.container_id}/{r.ifname}" for r in dead]
        live_veths = {r.host_veth for r in live}
        live_owners = {(r.network, Owner(r.container_id, r.ifname)): set(r.ips) for r in live}
        for cfg in state.networks():
            if network is not None and cfg.name != network:
                continue
            bridge = links.get(cfg.bridge)
            if bridge is not None:
                for name, msg in links.items():
                    if (
                        msg.get_attr("IFLA_MASTER") == bridge["index"]
                        and name.startswith(cfg.veth_prefix)
                        and name not in live_veths
                        and delete_link(host.ipr, name)
                    ):
                        report.veths.append(name)
            store = host.store(cfg)
            with store.locked():
                store.sweep_temporaries()
                for ip in sorted(store.used()):
                    owner = store.owner(ip)
                    if owner is None or ip not in live_owners.get((cfg.name, owner), set()):
                        store.release(ip)
                        report.leases.append(f"{cfg.name}/{ip}")
        reload(host)
    return report
