"""Joining another container's namespaces: `--network container:X` (with its hosts, hostname
and resolv.conf), `--pid container:X`, `--ipc container:X`. X must run; it is found by the id
its record was given at create, so renaming X changes nothing."""

from engine.containers import netmode
from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.store import ContainerStore


def joined(store: ContainerStore, ref: str) -> tuple[str, ContainerRecord]:
    """X's network namespace and X itself, whose name files the joining container shares."""
    try:
        other = store.find(ref)
    except NoSuchContainerError:
        raise ConflictError(f"No such container: {ref}") from None
    if other.state.status not in LIVE or not other.state.pid:
        raise ConflictError(f"cannot join network of a non running container: {ref}")
    return f"/proc/{other.state.pid}/ns/net", other


def shared(store: ContainerStore, record: ContainerRecord) -> dict[str, str]:
    """The pid and ipc namespaces to join (`container:X`), kind to path."""
    found = {}
    for kind, mode in (("pid", record.host.pid_mode), ("ipc", record.host.ipc_mode)):
        if mode.startswith(netmode.CONTAINER_PREFIX):
            path, _other = joined(store, mode.removeprefix(netmode.CONTAINER_PREFIX))
            found[kind] = path.replace("/ns/net", f"/ns/{kind}")
    return found
