"""The endpoints of a container's networks beyond its first, made at its start and removed
at its teardown (engine/lifecycle/joins.py connects and disconnects them at run time)."""

from collections.abc import Sequence

from engine.containers.record import ContainerRecord, NetworkAddress
from engine.lifecycle.backends import Networks


def next_ifname(taken: Sequence[NetworkAddress]) -> str:
    used = {a.ifname for a in taken}
    return next(f"eth{i}" for i in range(1, len(used) + 2) if f"eth{i}" not in used)


def attach_all(networks: Networks, record: ContainerRecord) -> tuple[NetworkAddress, ...]:
    """At start, after its first network: every further one, in order."""
    addresses: list[NetworkAddress] = []
    for join in record.host.extra_networks:
        ifname = next_ifname(addresses)
        attachment = networks.connect(join.name, record.id, record.name, ifname=ifname, ip=join.ip)
        addresses.append(NetworkAddress(join.name, attachment.ip, attachment.gateway, ifname))
    return tuple(addresses)


def detach_all(networks: Networks, record: ContainerRecord) -> None:
    """At teardown, before its first network (which takes the namespace along)."""
    for join in record.host.extra_networks:
        networks.detach(join.name, record.id, "")  # every endpoint it has there
