"""Network modes: a network's name (its own namespace and endpoint there), `host`, `none`, and
`container:NAME|ID` (join another container's namespace, Docker's and Podman's shared mode)."""

CONTAINER_PREFIX = "container:"
NO_OWN_ENDPOINT = ("none", "host")


def joined_container(mode: str) -> str:
    """The container whose namespace `container:REF` joins; "" for other modes."""
    return mode.removeprefix(CONTAINER_PREFIX) if mode.startswith(CONTAINER_PREFIX) else ""


def has_endpoint(mode: str) -> bool:
    """Whether the container gets a namespace and an address of its own on a network."""
    return mode not in NO_OWN_ENDPOINT and not joined_container(mode)
