"""The checks of `create`/`run` flags that span several options: networks and network modes,
privileges and resources; Docker's refusals and messages, before anything is created."""

import ipaddress
from typing import Any

from engine.containers import netmode, resources, units
from engine.containers.errors import InvalidOptionError
from engine.containers.flags import RunFlags


def parse_link(item: str) -> tuple[str, str]:
    """`--link name[:alias]` → (name, alias)."""
    name, _, alias = item.partition(":")
    if not name or ":" in alias:
        raise InvalidOptionError(f"invalid argument {item!r} for --link: bad format")
    return name, alias or name


def privileges(flags: RunFlags, memory: int) -> dict[str, Any]:
    """The privilege and resource part of the host config, checked (engine/containers/
    resources.py)."""
    for item in flags.ulimits:
        resources.parse_ulimit(item)
    for item in flags.sysctls:
        resources.check_sysctl(item, flags.network)
    for item in flags.devices:
        resources.parse_device(item)
    resources.check_security_opts(flags.security_opts)
    if flags.cpu_shares < 0:
        raise InvalidOptionError(f"invalid CPU shares: {flags.cpu_shares}")
    swap = (
        -1
        if flags.memory_swap == "-1"
        else (units.ram_in_bytes(flags.memory_swap) if flags.memory_swap else 0)
    )
    shm = units.ram_in_bytes(flags.shm_size) if flags.shm_size else 0
    if flags.shm_size and shm <= 0:
        raise InvalidOptionError(f"invalid size: '{flags.shm_size}'")
    return {
        "ulimits": flags.ulimits,
        "shm_size": shm,
        "sysctls": flags.sysctls,
        "group_add": flags.group_add,
        "memory_swap": resources.memory_swap(memory, swap),
        "cpu_shares": flags.cpu_shares,
        "cpuset_cpus": resources.check_cpuset(flags.cpuset_cpus),
        "oom_kill_disable": flags.oom_kill_disable,
        "pid_mode": resources.check_namespace_mode("pid", flags.pid_mode),
        "ipc_mode": resources.check_namespace_mode("ipc", flags.ipc_mode),
        "privileged": flags.privileged,
        "security_opts": flags.security_opts,
        "devices": flags.devices,
    }


def check_networks(flags: RunFlags) -> None:
    """Several `--network`: bridge or user networks only, each once; `--ip` on a user one."""
    special = [n for n in flags.extra_networks if not netmode.has_endpoint(n)]
    if flags.extra_networks and (special or not netmode.has_endpoint(flags.network)):
        raise InvalidOptionError(
            "conflicting options: cannot attach both user-defined and non-user-defined "
            "network-modes"
        )
    if len({flags.network, *flags.extra_networks}) != 1 + len(flags.extra_networks):
        raise InvalidOptionError("a network can be given only once")
    if flags.ip:
        try:
            ipaddress.IPv4Address(flags.ip)
        except ValueError:
            raise InvalidOptionError(f"invalid IPv4 address: {flags.ip}") from None
        if flags.network in ("bridge", "host", "none") or netmode.joined_container(flags.network):
            raise InvalidOptionError(
                "user specified IP address is supported on user defined networks only"
            )


def check_container_mode(flags: RunFlags) -> None:
    """What Docker refuses with `--network container:X`: the other container owns the
    network, its ports and its name files."""
    if not netmode.joined_container(flags.network):
        return
    if flags.network == netmode.CONTAINER_PREFIX:
        raise InvalidOptionError("invalid container format container:<name|id>")
    conflicts = (
        (flags.publish or flags.publish_all, "port publishing and the container type network mode"),
        (flags.expose, "port exposing and the container type network mode"),
        (flags.hostname, "hostname and the network mode"),
        (flags.mac_address, "mac-address and the network mode"),
        (flags.add_hosts, "custom host-to-IP mapping and the network mode"),
        (flags.dns or flags.dns_search or flags.dns_options, "dns and the network mode"),
        (flags.aliases, "network-scoped aliases and the container type network mode"),
    )
    for given, what in conflicts:
        if given:
            raise InvalidOptionError(f"conflicting options: {what}")
    if flags.links:
        raise InvalidOptionError(
            "conflicting options: container type network can't be used with links. This "
            "would result in undefined behavior"
        )
