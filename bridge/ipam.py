"""Address allocation over a `LeaseStore`: persistent, locked, crash-safe (see ipam_disk.py).

The allocator never hands out the network address, the gateway or the IPv4 broadcast address;
it honours a requested address inside the range, and raises PoolExhaustedError naming the range
when nothing is left. Two policies: "lowest" (Docker: the lowest free address, freed ones are
reused at once) and "round-robin" (host-local: continue after the last reserved address).
Callers hold `store.locked()` around allocate/release so concurrent processes never collide.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import NamedTuple, Protocol

from bridge.errors import AddressInUseError, ConfigError, PoolExhaustedError

IPAddress = IPv4Address | IPv6Address


class Owner(NamedTuple):
    """Who holds a lease: the container and its interface (host-local's file content)."""

    container_id: str
    ifname: str


class LeaseStore(Protocol):
    """Leases of one pool. Every method except `locked` is called with the lock held."""

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive across threads and processes."""
        ...

    def used(self) -> set[str]:
        """Addresses currently leased (strings, as stored)."""
        ...

    def owner(self, ip: str) -> Owner | None:
        """The lease holder, None if free (or unreadable: a torn write, treated as orphan)."""
        ...

    def reserve(self, ip: str, owner: Owner) -> bool:
        """Atomically take `ip` for `owner`; False if already taken."""
        ...

    def release(self, ip: str) -> None:
        """Free `ip`; absence is not an error."""
        ...

    def last_reserved(self) -> str | None: ...

    def set_last_reserved(self, ip: str) -> None: ...


@dataclass(frozen=True)
class Pool:
    """An allocation range inside a subnet, with addresses that are never handed out."""

    subnet: IPv4Network | IPv6Network
    start: IPAddress
    end: IPAddress
    reserved: frozenset[IPAddress]

    @classmethod
    def of(
        cls,
        subnet: IPv4Network | IPv6Network,
        gateway: IPAddress | None,
        start: IPAddress | None = None,
        end: IPAddress | None = None,
    ) -> Pool:
        reserved: set[IPAddress] = {subnet.network_address}
        if isinstance(subnet, IPv4Network) and subnet.prefixlen < 31:
            reserved.add(subnet.broadcast_address)
        if gateway is not None:
            reserved.add(gateway)
        first = start or subnet.network_address + 1
        last = end or (
            subnet.broadcast_address - 1
            if isinstance(subnet, IPv4Network)
            else subnet.broadcast_address
        )
        return cls(subnet, first, last, frozenset(reserved))

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    def candidates(self, after: IPAddress | None) -> Iterator[IPAddress]:
        """Addresses in allocation order: from `after`+1 wrapping around, or from the start."""
        first, last = int(self.start), int(self.end)
        begin = first if after is None or not first <= int(after) < last else int(after) + 1
        ctor = type(self.start)
        for value in itertools.chain(range(begin, last + 1), range(first, begin)):
            addr = ctor(value)
            if addr not in self.reserved:
                yield addr


class Allocator:
    """Allocates addresses of one `Pool` from one `LeaseStore` with one policy."""

    def __init__(self, pool: Pool, store: LeaseStore, policy: str = "lowest") -> None:
        self.pool = pool
        self.store = store
        self.policy = policy

    def __repr__(self) -> str:
        return f"<Allocator {self.pool} {self.policy}>"

    def allocate(self, owner: Owner, requested: IPAddress | None = None) -> IPAddress:
        """Lease an address for `owner` (the caller holds the store's lock)."""
        if requested is not None:
            return self._take(owner, requested)
        used = self.store.used()
        after = None
        if self.policy == "round-robin" and (last := self.store.last_reserved()):
            after = ipaddress.ip_address(last)
        for addr in self.pool.candidates(after):
            if str(addr) in used:
                continue
            if self.store.reserve(str(addr), owner):
                if self.policy == "round-robin":
                    self.store.set_last_reserved(str(addr))
                return addr
        raise PoolExhaustedError(
            f"allocate address in {self.pool.subnet}: no free address left in range {self.pool}"
        )

    def _take(self, owner: Owner, addr: IPAddress) -> IPAddress:
        if addr not in self.pool.subnet or not int(self.pool.start) <= int(addr) <= int(
            self.pool.end
        ):
            raise ConfigError(f"requested address {addr}: outside range {self.pool}")
        if addr in self.pool.reserved:
            raise ConfigError(f"requested address {addr}: reserved (network/gateway/broadcast)")
        if not self.store.reserve(str(addr), owner):
            held = self.store.owner(str(addr))
            who = f" by {held.container_id}/{held.ifname}" if held else ""
            raise AddressInUseError(f"requested address {addr}: already in use{who}")
        return addr

    def release(self, addr: IPAddress | str, owner: Owner | None = None) -> bool:
        """Free `addr` if `owner` (when given) holds it; True if something was freed."""
        key = str(addr)
        held = self.store.owner(key)
        if held is None and key not in self.store.used():
            return False
        if owner is not None and held is not None and held != owner:
            return False
        self.store.release(key)
        return True


class MemoryStore:
    """An in-memory LeaseStore for unit tests (same contract as DiskStore)."""

    def __init__(self) -> None:
        self.leases: dict[str, Owner] = {}
        self.last: str | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        yield

    def used(self) -> set[str]:
        return set(self.leases)

    def owner(self, ip: str) -> Owner | None:
        return self.leases.get(ip)

    def reserve(self, ip: str, owner: Owner) -> bool:
        if ip in self.leases:
            return False
        self.leases[ip] = owner
        return True

    def release(self, ip: str) -> None:
        self.leases.pop(ip, None)

    def last_reserved(self) -> str | None:
        return self.last

    def set_last_reserved(self, ip: str) -> None:
        self.last = ip
