"""The shared handles of one driver: state root, netlink and nftables in the host namespace."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bridge import nftgen
from bridge.config import NetworkConfig
from bridge.digest import sha256_hex
from bridge.errors import NetworkNotFoundError
from bridge.ipam import Allocator, Pool
from bridge.ipam_disk import DiskStore
from bridge.nftclient import LibNft, NftClient
from bridge.nftrender import Cmd, Renderer
from bridge.rtnl import Rtnl
from bridge.state import State
from netns import iproute_in, netlink_in

NFT_STAMP = "nft.gen"


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
        # Strings, not Paths: pathlib costs ms at import in every pybridge call (state.py).
        self.leases = os.fspath(leases) if leases else None
        self.netns = netns
        self.render = Renderer(table)
        self.forwarding = forwarding
        self._nft = nft
        self._own_nft = nft is None  # ours (LibNft) unless the caller gave one
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
            self._rtnl = Rtnl(netlink_in(self.netns))
        return self._rtnl

    @property
    def nft(self) -> NftClient:
        if self._nft is None:
            self._nft = LibNft(self.netns)
        return self._nft

    def ensure_rules(self, cmds: list[Cmd]) -> None:
        """Apply an idempotent batch (our chains, re-asserted), unless the ruleset provably
        has not changed since this very batch was applied (see nftgen.py)."""
        if not self._own_nft:  # a caller's client (FakeNft in tests): not ours to skip
            self.nft.run(cmds)
            return
        try:
            gen = nftgen.Generation(netlink_in(self.netns, nftgen.NETLINK_NETFILTER))
        except OSError:  # no nf_tables netlink: the batch will say why
            self.nft.run(cmds)
            return
        try:
            digest = sha256_hex(json.dumps(cmds, sort_keys=True).encode())
            stamp = os.path.join(self.state.dir, NFT_STAMP)
            nftgen.apply_once(gen, stamp, digest, lambda: self.nft.run(cmds))
        finally:
            gen.close()

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
        base = os.path.join(self.leases, cfg.name) if self.leases else self.state.ipam_dir(cfg.name)
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
    digest = sha256_hex(f"{cfg.name}\0{container_id}\0{ifname}".encode())
    return cfg.veth_prefix + digest[: 15 - len(cfg.veth_prefix)]
