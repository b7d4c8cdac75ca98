"""The shared handles of one driver: state root, netlink and nftables in the host namespace."""

import hashlib
import socket
from pathlib import Path
from typing import Any

from bridge.config import NetworkConfig
from bridge.errors import NetworkNotFoundError
from bridge.ipam import Allocator, Pool
from bridge.ipam_disk import DiskStore
from bridge.nftclient import LibNft, NftClient
from bridge.nftrender import Renderer
from bridge.rtnl import Rtnl
from bridge.state import State
from netns import iproute_in, socket_in


class Host:
    """Where networks live: `netns` None is the caller's namespace (the real host)."""

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
        self.state = State(root)
        self.leases = Path(leases) if leases else None
        self.netns = netns
        self.render = Renderer(table)
        self.forwarding = forwarding
        self._nft = nft
        self._ipr: Any = None
        self._rtnl: Rtnl | None = None

    def __repr__(self) -> str:
        return f"<Host root={self.state.root} netns={self.netns!r} table={self.render.name}>"

    @property
    def ipr(self) -> Any:
        """A pyroute2 IPRoute in the host namespace, opened on first use."""
        if self._ipr is None:
            self._ipr = iproute_in(self.netns)
        return self._ipr

    @property
    def rtnl(self) -> Rtnl:
        """Our own synchronous netlink socket in the host namespace (the ADD hot path)."""
        if self._rtnl is None:
            self._rtnl = Rtnl(socket_in(self.netns, socket.AF_NETLINK, socket.SOCK_RAW, 0))
        return self._rtnl

    @property
    def nft(self) -> NftClient:
        if self._nft is None:
            self._nft = LibNft(self.netns)
        return self._nft

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
        if self._rtnl is not None:
            self._rtnl.close()
            self._rtnl = None

    def network(self, name: str) -> NetworkConfig:
        cfg = self.state.load_network(name)
        if cfg is None:
            raise NetworkNotFoundError(f"find network {name!r}: no such network")
        return cfg

    def store(self, cfg: NetworkConfig) -> DiskStore:
        base = self.leases / cfg.name if self.leases else self.state.ipam_dir(cfg.name)
        return DiskStore(base)

    def allocators(self, cfg: NetworkConfig, store: DiskStore) -> list[Allocator]:
        pools = [
            Allocator(
                Pool.of(cfg.subnet, cfg.gateway, cfg.range_start, cfg.range_end), store, cfg.policy
            )
        ]
        if cfg.subnet6 is not None:
            pools.append(Allocator(Pool.of(cfg.subnet6, cfg.gateway6), store, "lowest"))
        return pools


def host_veth_name(cfg: NetworkConfig, container_id: str, ifname: str) -> str:
    """Deterministic per (network, container, ifname): parallel ADDs never collide and GC can
    recognise a half-made pair after a crash."""
    digest = hashlib.sha256(f"{cfg.name}\0{container_id}\0{ifname}".encode()).hexdigest()
    return cfg.veth_prefix + digest[: 15 - len(cfg.veth_prefix)]
