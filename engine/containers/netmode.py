"""Network modes: a network's name (its own namespace and endpoint there), `host`, `none`, and
`container:NAME|ID` (join another container's namespace, Docker's and Podman's shared mode)."""

from engine.containers.record import ContainerRecord

CONTAINER_PREFIX = "container:"
NO_OWN_ENDPOINT = ("none", "host")


def joined_container(mode: str) -> str:
    """The container whose namespace `container:REF` joins; "" for other modes."""
    return mode.removeprefix(CONTAINER_PREFIX) if mode.startswith(CONTAINER_PREFIX) else ""


def has_endpoint(mode: str) -> bool:
    """Whether the container gets a namespace and an address of its own on a network."""
    return mode not in NO_OWN_ENDPOINT and not joined_container(mode)


def networks_of(record: ContainerRecord) -> list[str]:
    """Every network the container is set to be on, its first one first."""
    return [record.host.network, *(j.name for j in record.host.extra_networks)]


def address_on(record: ContainerRecord, network: str) -> str:
    """The container's address on `network` while it runs there ("" if it does not)."""
    if record.host.network == network:
        return record.state.ip_address
    return next((a.ip for a in record.state.extra_addresses if a.network == network), "")


def aliases_on(record: ContainerRecord, network: str) -> tuple[str, ...]:
    if record.host.network == network:
        return record.host.aliases
    return next((j.aliases for j in record.host.extra_networks if j.name == network), ())


def gateway_on(record: ContainerRecord, network: str) -> str:
    """The gateway of `network` as the container sees it while it runs there ("" if not)."""
    if record.host.network == network:
        return record.state.gateway
    return next((a.gateway for a in record.state.extra_addresses if a.network == network), "")
