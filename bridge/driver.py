"""`Driver`: the library's front door, one object per state root and host namespace.

d = Driver("/var/lib/pyengine", netns=None, table="pyengine")
d.create_network(network_config("web", "10.242.1.0/24"))
rec = d.add_endpoint("web", endpoint_request("c1", "/run/netns/c1", ports=[...]))
d.remove_endpoint("web", "c1", "eth0"); d.gc(); d.reload(); d.delete_network("web")
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from bridge import endpoints, gc, networks
from bridge.config import EndpointRequest, NetworkConfig, PortMapping
from bridge.host import Host
from bridge.nftclient import NftClient
from bridge.state import EndpointRecord


class Driver:
    """Bridge networks and their endpoints under one state root.

    Safe across processes (flock on the state root and on each pool); one Driver holds one
    netlink socket and one libnftables context, so give each thread its own Driver.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        netns: str | None = None,
        table: str = "pyengine",
        nft: NftClient | None = None,
        forwarding: bool = True,
        leases: Path | str | None = None,
    ) -> None:
        self.host = Host(
            root, netns=netns, table=table, nft=nft, forwarding=forwarding, leases=leases
        )

    def __repr__(self) -> str:
        return f"<Driver {self.host!r}>"

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.host.close()

    # networks
    def create_network(self, cfg: NetworkConfig) -> NetworkConfig:
        return networks.create_network(self.host, cfg)

    def ensure_network(self, cfg: NetworkConfig) -> None:
        networks.ensure_network(self.host, cfg)

    def network(self, name: str) -> NetworkConfig:
        return self.host.network(name)

    def networks(self) -> list[NetworkConfig]:
        return self.host.state.networks()

    def delete_network(self, name: str) -> None:
        networks.delete_network(self.host, name)

    def prune(self) -> list[str]:
        return networks.prune(self.host)

    # endpoints
    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        return self.host.state.endpoints(network)

    def add_endpoint(
        self, network: str | NetworkConfig, req: EndpointRequest, *, ensure: bool = False
    ) -> EndpointRecord:
        cfg = network if isinstance(network, NetworkConfig) else self.host.network(network)
        return endpoints.add_endpoint(self.host, cfg, req, ensure=ensure)

    def remove_endpoint(self, network: str, container_id: str, ifname: str = "eth0") -> bool:
        return endpoints.remove_endpoint(self.host, network, container_id, ifname)

    def remove_endpoints(self, recs: list[EndpointRecord]) -> None:
        """Tear many endpoints down at once (one nft transaction, one grouped link delete)."""
        with self.host.state.op_lock():
            endpoints.remove_endpoints(self.host, recs)

    def check_endpoint(self, network: str, container_id: str, ifname: str = "eth0") -> None:
        endpoints.check_endpoint(self.host, self.host.network(network), container_id, ifname)

    def publish(
        self, network: str, container_id: str, ifname: str, ports: list[PortMapping]
    ) -> EndpointRecord:
        cfg = self.host.network(network)
        return endpoints.publish(self.host, cfg, container_id, ifname, ports)

    def unpublish(
        self, network: str, container_id: str, ifname: str, ports: list[PortMapping]
    ) -> EndpointRecord:
        cfg = self.host.network(network)
        return endpoints.unpublish(self.host, cfg, container_id, ifname, ports)

    # reconciliation
    def gc(
        self, valid: Collection[tuple[str, str]] | None = None, network: str | None = None
    ) -> gc.GcReport:
        return gc.gc(self.host, valid, network)

    def reload(self) -> None:
        gc.reload(self.host)

    def delete_table(self) -> None:
        """Remove our nft tables entirely (tests, uninstall)."""
        self.host.nft.run(self.host.render.delete_tables())
