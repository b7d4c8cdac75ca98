"""Named network namespaces, laid out exactly as `ip netns` lays them out.

A named namespace is a bind mount of a namespace file on `/run/netns/<name>`, and `/run/netns` is
itself a shared mount so that mounts made later propagate into every mount namespace (iproute2's
`netns_add` does the same). Anything `ip netns add` made, we can open and remove, and the reverse.

Creating one costs no fork: a short-lived thread unshares its own network namespace, bind-mounts
`/proc/thread-self/ns/net` and exits, so no other thread ever changes namespace (see README.md).
"""

import contextlib
import errno
import os
import threading
from collections.abc import Iterator

from netns import libc
from netns.errors import (
    NetnsExistsError,
    NetnsNameError,
    NetnsNotFoundError,
    NetnsOSError,
)
from netns.fresh import on_fresh_thread

RUN_DIR = "/run/netns"
NAME_MAX = 255
_mount_lock = threading.Lock()


def validate_name(name: str) -> str:
    """Return `name` if `ip netns` accepts it as a namespace name, else raise NetnsNameError."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise NetnsNameError(f"invalid namespace name {name!r}: empty, '.', '..' or has '/'")
    if len(name.encode()) > NAME_MAX:
        raise NetnsNameError(f"invalid namespace name {name[:20]!r}...: longer than {NAME_MAX}")
    return name


def path(ref: str) -> str:
    """The file of a namespace given by name (`/run/netns/<name>`) or by path (kept as is)."""
    return ref if "/" in ref else os.path.join(RUN_DIR, validate_name(ref))


def is_netns(file: str) -> bool:
    """True if `file` is (a mount of) a network namespace."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        # NS_GET_NSTYPE needs kernel 4.11; the st_dev of nsfs is what `ip` checks too.
        return os.fstat(fd).st_dev == os.stat("/proc/self/ns/net").st_dev
    finally:
        os.close(fd)


def exists(ref: str) -> bool:
    """True if the name or path refers to a network namespace."""
    return is_netns(path(ref))


def list_names() -> list[str]:
    """Names under /run/netns that are namespace mounts (what `ip netns list` shows), sorted."""
    try:
        entries = os.listdir(RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if is_netns(os.path.join(RUN_DIR, e)))


def open_fd(ref: str) -> int:
    """Open a namespace (name or path) read-only; the caller closes the descriptor."""
    file = path(ref)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsNotFoundError(f"open namespace {ref!r}: {file} does not exist") from None
    except OSError as exc:
        raise NetnsOSError(f"open namespace {ref!r}: {exc.strerror}", exc.errno or 0) from exc
    if os.fstat(fd).st_dev != os.stat("/proc/self/ns/net").st_dev:
        os.close(fd)
        raise NetnsNotFoundError(f"open namespace {ref!r}: {file} is not a network namespace")
    return fd


@contextlib.contextmanager
def opened(ref: str) -> Iterator[int]:
    """`open_fd` as a context manager."""
    fd = open_fd(ref)
    try:
        yield fd
    finally:
        os.close(fd)


def _ensure_shared_run_dir() -> None:
    os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
    try:
        libc.mount("none", RUN_DIR, "none", libc.MS_SHARED | libc.MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        # Not a mount point yet: make it one, then shared (iproute2 does the same).
        libc.mount(RUN_DIR, RUN_DIR, "none", libc.MS_BIND | libc.MS_REC)
        libc.mount("none", RUN_DIR, "none", libc.MS_SHARED | libc.MS_REC)


def _unshare_and_mount(target: str) -> None:
    """Run in a throw-away thread: only this thread enters the new namespace."""
    libc.unshare(libc.CLONE_NEWNET)
    libc.mount("/proc/thread-self/ns/net", target, "none", libc.MS_BIND)


def create(name: str) -> str:
    """Create the named namespace and return its path; NetnsExistsError if the name is taken."""
    target = os.path.join(RUN_DIR, validate_name(name))
    with _mount_lock:
        try:
            _ensure_shared_run_dir()
        except OSError as exc:
            raise NetnsOSError(f"create namespace {name!r}: {exc}", exc.errno or 0) from exc
    try:
        # O_EXCL makes two concurrent creators of one name race safely: one of them loses here.
        os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    except FileExistsError:
        raise NetnsExistsError(f"create namespace {name!r}: it already exists") from None
    except OSError as exc:
        raise NetnsOSError(f"create namespace {name!r}: {exc.strerror}", exc.errno or 0) from exc
    try:
        on_fresh_thread(lambda: _unshare_and_mount(target))
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise NetnsOSError(f"create namespace {name!r}: {err}", err.errno or 0) from err
    return target


def remove(name: str) -> bool:
    """Unmount and unlink the named namespace; True if it existed. Absence is not an error."""
    target = os.path.join(RUN_DIR, validate_name(name))
    existed = os.path.lexists(target)
    try:
        libc.umount2(target, libc.MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise NetnsOSError(f"remove namespace {name!r}: {exc}", exc.errno or 0) from exc
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise NetnsOSError(f"remove namespace {name!r}: {exc.strerror}", exc.errno or 0) from exc
    return existed
