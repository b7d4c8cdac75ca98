"""Networks beyond a container's first: `--network` given again at create, `network connect`
and `network disconnect` (Docker's names and refusals).

The first network owns the container's namespace (made and removed with it) and its
published ports; each further one is one more endpoint in that namespace, `eth1`, `eth2`...
A stopped container keeps the networks it was connected to and joins them at its next start.
"""

import dataclasses
from collections.abc import Sequence

from engine.containers import netmode
from engine.containers.errors import ConflictError
from engine.containers.record import LIVE, ContainerRecord, NetworkAddress, NetworkJoin
from engine.errors import EngineError
from engine.lifecycle import hosts
from engine.lifecycle.base import LifecycleBase
from engine.lifecycle.extras import next_ifname


def connect(
    engine: LifecycleBase, ref: str, network: str, aliases: Sequence[str] = (), ip: str = ""
) -> ContainerRecord:
    """`network connect [--alias A]... [--ip IP] NETWORK CONTAINER`."""
    if network in netmode.NO_OWN_ENDPOINT or netmode.joined_container(network):
        raise ConflictError(
            "container cannot be disconnected from host network or connected to host network"
        )
    if not engine.networks.exists(network):
        raise EngineError(f"network {network} not found")
    with engine.locked(ref) as record:
        if not netmode.has_endpoint(record.host.network):
            raise ConflictError(
                "container sharing network namespace with another container or host cannot be "
                "connected to any other network"
            )
        if network in netmode.networks_of(record):
            raise ConflictError(
                f"endpoint with name {record.name} already exists in network {network}"
            )
        join = NetworkJoin(network, tuple(dict.fromkeys(aliases)), ip)
        host = dataclasses.replace(record.host, extra_networks=(*record.host.extra_networks, join))
        record = dataclasses.replace(record, host=host)
        if record.state.status in LIVE:
            ifname = next_ifname(record.state.extra_addresses)
            attachment = engine.networks.connect(
                network, record.id, record.name, ifname=ifname, ip=ip
            )
            address = NetworkAddress(network, attachment.ip, attachment.gateway, ifname)
            record = record.with_state(extra_addresses=(*record.state.extra_addresses, address))
        engine.store.write(record)
    engine.sync_names(network)
    return record


def disconnect(engine: LifecycleBase, ref: str, network: str) -> ContainerRecord:
    """`network disconnect NETWORK CONTAINER`: a network beyond its first."""
    with engine.locked(ref) as record:
        if network == record.host.network:
            raise ConflictError(
                f"container {record.id} cannot leave {network}, its first network: pyengine "
                "keeps a container's namespace with it (recreate the container instead)"
            )
        if network not in netmode.networks_of(record):
            raise ConflictError(f"container {record.id} is not connected to network {network}")
        engine.networks.detach(network, record.id, "")
        extras = tuple(j for j in record.host.extra_networks if j.name != network)
        record = dataclasses.replace(
            record, host=dataclasses.replace(record.host, extra_networks=extras)
        )
        record = record.with_state(
            extra_addresses=tuple(a for a in record.state.extra_addresses if a.network != network)
        )
        engine.store.write(record)
        hosts.update(engine.bundle_dir(record.id) / "hosts", network, [])
    engine.sync_names(network)
    return record
