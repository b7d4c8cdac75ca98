"""Named network namespaces, interchangeable with `ip netns` (a leaf: imports nothing of ours).

    create(name) / remove(name) / exists(ref) / list_names() / path(ref) / opened(ref)
    call_in(ref, fn), socket_in(ref, ...), netlink_in(ref), iproute_in(ref),
    write_sysctl(ref, key, value)

`ref` is a name under /run/netns or a path (e.g. /proc/<pid>/ns/net). Errors: netns.errors.

The names below are loaded on first use (PEP 562), so a short-lived process (the `pybridge`
CNI plugin) pays only for the modules it calls.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing: see bridge/README.md
if TYPE_CHECKING:
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

_HOME = {
    **dict.fromkeys(
        ("NetnsError", "NetnsExistsError", "NetnsNameError", "NetnsNotFoundError"),
        "netns.errors",
    ),
    "NetnsOSError": "netns.errors",
    **dict.fromkeys(
        ("RUN_DIR", "create", "exists", "list_names", "open_fd", "opened", "path", "remove"),
        "netns.ns",
    ),
    **dict.fromkeys(
        (
            "async_iproute_in",
            "call_in",
            "iproute_in",
            "loopback_up",
            "netlink_in",
            "read_sysctl",
            "socket_in",
            "write_sysctl",
        ),
        "netns.threads",
    ),
}

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


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'netns' has no attribute {name!r}")
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value  # once: later lookups never reach __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
