"""`--link TARGET[:ALIAS]`, as Docker gives it.

On the default bridge (legacy links): the target must be running there; the linking container
gets a hosts line for it (`IP ALIAS ID NAME`) and the environment variables Docker sets
(`ALIAS_NAME`, `ALIAS_PORT_80_TCP_ADDR`..., `ALIAS_ENV_KEY` for the target's own). On a user
network a link is a name only the linking container resolves, answered by the network's DNS
server (engine/dns) from the records it is given.
"""

from collections.abc import Sequence

from engine.containers.checks import parse_link
from engine.containers.errors import ConflictError, InvalidOptionError, NoSuchContainerError
from engine.containers.record import ContainerRecord
from engine.containers.store import ContainerStore

NOT_PASSED = ("HOME", "HOSTNAME", "PATH")  # of the target's environment


def resolve(items: Sequence[str], store: ContainerStore) -> tuple[str, ...]:
    """At create: every target must exist (Docker's message otherwise); `ID:ALIAS` each."""
    resolved = []
    for item in items:
        name, alias = parse_link(item)
        try:
            target = store.find(name)
        except NoSuchContainerError as exc:
            raise InvalidOptionError(f"could not get container for {name}: {exc}") from None
        resolved.append(f"{target.id}:{alias}")
    return tuple(resolved)


def targets(record: ContainerRecord, store: ContainerStore) -> list[tuple[str, ContainerRecord]]:
    """(alias, target record) for each link whose target still exists."""
    found = []
    for item in record.host.links:
        target_id, _, alias = item.partition(":")
        try:
            found.append((alias, store.find(target_id)))
        except NoSuchContainerError:
            continue  # a removed target: Docker drops the link too
    return found


def legacy(
    record: ContainerRecord, store: ContainerStore
) -> tuple[list[tuple[str, str]], list[str]]:
    """For a start on the default bridge: hosts entries (names, address) and environment."""
    entries: list[tuple[str, str]] = []
    env: list[str] = []
    for alias, target in targets(record, store):
        ip = target.state.ip_address
        if target.state.status != "running" or not ip:
            raise ConflictError(
                f"Cannot link to a non running container: /{target.name} AS /{record.name}/{alias}"
            )
        entries.append((f"{alias} {target.id[:12]} {target.name}", ip))
        env += link_env(alias, record.name, target)
    return entries, env


def link_env(alias: str, own_name: str, target: ContainerRecord) -> list[str]:
    prefix = alias.upper().replace("-", "_").replace(".", "_")
    ip = target.state.ip_address
    env = [f"{prefix}_NAME=/{own_name}/{alias}"]
    ports = sorted(
        (int(p), proto) for p, _, proto in (k.partition("/") for k in target.config.exposed)
    )
    if ports:
        port, proto = ports[0]
        env.append(f"{prefix}_PORT={proto}://{ip}:{port}")
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{key}={proto}://{ip}:{port}", f"{key}_ADDR={ip}", f"{key}_PORT={port}",
                f"{key}_PROTO={proto}"]  # fmt: skip
    for item in target.config.env:
        key, _, value = item.partition("=")
        if key not in NOT_PASSED:
            env.append(f"{prefix}_ENV_{key}={value}")
    return env
