"""Work inside a namespace without moving the caller's thread (see README.md for why).

`call_in(ns, fn)` runs `fn` on a fresh thread that enters the namespace and then exits, so the
namespace switch dies with it. Sockets keep the namespace they were created in, so `socket_in`
and `iproute_in` return objects usable from any thread, an event loop's included.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from netns import libc
from netns.errors import NetnsOSError
from netns.fresh import on_fresh_thread
from netns.ns import open_fd

if TYPE_CHECKING:  # pyroute2 costs 170 ms to import: only the functions that use it do
    from pyroute2 import AsyncIPRoute, IPRoute

T = TypeVar("T")

NETLINK_ROUTE = 0


def call_in(ref: str | None, fn: Callable[[], T]) -> T:
    """Return `fn()` run in namespace `ref` (name or path; None: the caller's, on this thread)."""
    if ref is None:
        return fn()
    fd = open_fd(ref)

    def work() -> T:
        try:
            libc.setns(fd, libc.CLONE_NEWNET)
        except OSError as exc:
            raise NetnsOSError(f"enter namespace {ref!r}: {exc}", exc.errno or 0) from exc
        return fn()

    try:
        return on_fresh_thread(work)
    finally:
        os.close(fd)


def socket_in(
    ref: str | None, family: int, kind: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A new socket that lives in namespace `ref`, usable from any thread."""
    return call_in(ref, lambda: socket.socket(family, kind, proto))


def netlink_in(ref: str | None, proto: int = NETLINK_ROUTE) -> socket.socket:
    """A raw netlink socket in `ref` (what a netlink client binds, sends and receives on)."""
    return socket_in(ref, socket.AF_NETLINK, socket.SOCK_RAW, proto)


def iproute_in(ref: str | None) -> IPRoute:
    """A pyroute2 `IPRoute` whose netlink socket lives in `ref`, without pyroute2's fork."""
    from pyroute2 import IPRoute  # noqa: PLC0415 - 170 ms to import: only when asked

    if ref is None:
        return IPRoute()
    sock = socket_in(ref, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    return IPRoute(fileno=sock.detach())


def async_iproute_in(ref: str | None) -> AsyncIPRoute:
    """An `AsyncIPRoute` bound to `ref`; call `await ipr.setup_endpoint()` on the loop first."""
    from pyroute2 import AsyncIPRoute  # noqa: PLC0415 - as above

    if ref is None:
        return AsyncIPRoute()
    sock = socket_in(ref, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
    return AsyncIPRoute(fileno=sock.detach())


def _sysctl_file(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def write_sysctl(ref: str | None, key: str, value: str) -> None:
    """Write a `net.*` sysctl of namespace `ref` (the file resolves to the writer's namespace)."""

    def write() -> None:
        with open(_sysctl_file(key), "w") as f:
            f.write(value)

    call_in(ref, write)


def read_sysctl(ref: str | None, key: str) -> str:
    """Read a `net.*` sysctl of namespace `ref`."""

    def read() -> str:
        with open(_sysctl_file(key)) as f:
            return f.read().strip()

    return call_in(ref, read)


def loopback_up(ref: str) -> None:
    """Bring `lo` up in `ref` (the kernel then gives it 127.0.0.1/8 and ::1)."""
    with iproute_in(ref) as ipr:
        ipr.link("set", index=1, state="up")
