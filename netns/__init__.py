"""Named network namespaces, interchangeable with `ip netns` (a leaf: imports nothing of ours).

    create(name) / remove(name) / exists(ref) / list_names() / path(ref) / opened(ref)
    call_in(ref, fn), socket_in(ref, ...), netlink_in(ref), iproute_in(ref),
    write_sysctl(ref, key, value)

`ref` is a name under /run/netns or a path (e.g. /proc/<pid>/ns/net). Errors: netns.errors.
"""

from __future__ import annotations

from netns.errors import (
    NetnsError,
    NetnsExistsError,
    NetnsNameError,
    NetnsNotFoundError,
    NetnsOSError,
)
from netns.ns import RUN_DIR, create, exists, list_names, open_fd, opened, path, remove
from netns.threads import (
    async_iproute_in,
    call_in,
    iproute_in,
    loopback_up,
    netlink_in,
    read_sysctl,
    socket_in,
    write_sysctl,
)

__all__ = [
    "RUN_DIR",
    "NetnsError",
    "NetnsExistsError",
    "NetnsNameError",
    "NetnsNotFoundError",
    "NetnsOSError",
    "async_iproute_in",
    "call_in",
    "create",
    "exists",
    "iproute_in",
    "list_names",
    "loopback_up",
    "netlink_in",
    "open_fd",
    "opened",
    "path",
    "read_sysctl",
    "remove",
    "socket_in",
    "write_sysctl",
]
