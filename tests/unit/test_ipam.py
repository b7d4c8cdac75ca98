"""IPAM rules over the in-memory fake store and the on-disk store (no root)."""

import multiprocessing
import os
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_address
from pathlib import Path

import pytest

from bridge.errors import AddressInUseError, ConfigError, PoolExhaustedError
from bridge.ipam import Allocator, MemoryStore, Owner, Pool
from bridge.ipam_disk import DiskStore

NET = IPv4Network("10.242.7.0/29")
GW = IPv4Address("10.242.7.1")


def alloc(policy: str = "lowest", store: object = None) -> Allocator:
    return Allocator(Pool.of(NET, GW), store or MemoryStore(), policy)  # type: ignore[arg-type]


def test_never_network_gateway_or_broadcast_then_exhausted() -> None:
    a = alloc()
    got = [str(a.allocate(Owner(f"c{i}", "eth0"))) for i in range(5)]
    assert got == [f"10.242.7.{i}" for i in range(2, 7)]
    with pytest.raises(PoolExhaustedError, match=r"10\.242\.7\.1-10\.242\.7\.6"):
        a.allocate(Owner("c9", "eth0"))


def test_lowest_free_reuses_and_round_robin_moves_on() -> None:
    low, rr = alloc("lowest"), alloc("round-robin")
    for a in (low, rr):
        for i in range(3):
            a.allocate(Owner(f"c{i}", "eth0"))
        assert a.release("10.242.7.2", Owner("c0", "eth0"))
    assert str(low.allocate(Owner("n", "eth0"))) == "10.242.7.2"
    assert str(rr.allocate(Owner("n", "eth0"))) == "10.242.7.5"


def test_requested_address() -> None:
    a = alloc()
    assert str(a.allocate(Owner("c", "eth0"), ip_address("10.242.7.5"))) == "10.242.7.5"
    with pytest.raises(AddressInUseError, match="c/eth0"):
        a.allocate(Owner("d", "eth0"), ip_address("10.242.7.5"))
    with pytest.raises(ConfigError, match="reserved"):
        a.allocate(Owner("d", "eth0"), ip_address("10.242.7.1"))
    with pytest.raises(ConfigError, match="outside"):
        a.allocate(Owner("d", "eth0"), ip_address("10.242.8.2"))
    assert str(a.allocate(Owner("d", "eth0"))) == "10.242.7.2"


def test_release_checks_the_owner() -> None:
    a = alloc()
    ip = a.allocate(Owner("c", "eth0"))
    assert not a.release(ip, Owner("c", "eth1"))
    assert a.release(ip, Owner("c", "eth0"))
    assert not a.release(ip, Owner("c", "eth0"))


def test_ipv6_pool_skips_anycast_and_gateway() -> None:
    net = IPv6Network("fd42:242::/64")
    a = Allocator(Pool.of(net, ip_address("fd42:242::1")), MemoryStore())
    assert str(a.allocate(Owner("c", "eth0"))) == "fd42:242::2"


def test_disk_store_is_host_local_compatible_and_persistent(tmp_path: Path) -> None:
    store = DiskStore(tmp_path / "net")
    a = alloc(store=store)
    with store.locked():
        ip = a.allocate(Owner("ctr1", "eth0"))
    assert (tmp_path / "net" / str(ip)).read_bytes() == b"ctr1\r\neth0"
    again = DiskStore(tmp_path / "net")  # another process would see the same
    assert again.owner(str(ip)) == Owner("ctr1", "eth0")
    (tmp_path / "net" / ".tmp-999-10.242.7.3").write_text("torn")  # a killed writer's file
    assert again.used() == {str(ip)}
    with again.locked():
        assert again.sweep_temporaries() == 1
        assert str(alloc(store=again).allocate(Owner("ctr2", "eth0"))) == "10.242.7.3"


def _allocate_in_child(directory: str, n: int, out: "multiprocessing.Queue[str]") -> None:
    store = DiskStore(Path(directory))
    a = Allocator(Pool.of(IPv4Network("10.242.8.0/24"), None), store)
    with store.locked():
        out.put(str(a.allocate(Owner(f"p{n}", "eth0"))))


def test_disk_store_is_locked_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_allocate_in_child, args=(str(tmp_path), i, out)) for i in range(12)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    got = [out.get(timeout=5) for _ in procs]
    assert len(set(got)) == 12
    assert len(os.listdir(tmp_path)) == 12 + 1  # leases + lock
