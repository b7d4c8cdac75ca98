"""The libc calls the os module lacks, for every package of ours: setns, unshare, mount,
umount2, syncfs, prctl, pidfd_getfd, inotify and raw syscalls. netns is the bottom of the stack (it
imports nothing of ours), so the one libc helper lives here and the engine uses it too.
"""

import ctypes
import os
from functools import cache

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER = 36
SYS_PIDFD_GETFD = 438  # the same number on every architecture (Linux 5.6)


@cache
def _lib() -> ctypes.CDLL:
    # By soname: ctypes.util.find_library would run ldconfig (about 10 ms) on every start.
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.unshare.argtypes = [ctypes.c_int]
    lib.syncfs.argtypes = [ctypes.c_int]
    lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    lib.syscall.restype = ctypes.c_long
    lib.inotify_init1.argtypes = [ctypes.c_int]
    lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return lib


def _check(result: int, what: str, filename: str | None = None) -> int:
    """`result`, or the OSError its errno means (libc returns -1 and sets errno); named after
    `filename`, else `what`."""
    if result < 0:
        err = ctypes.get_errno()
        if filename is None:
            raise OSError(err, f"{what}: {os.strerror(err)}")
        raise OSError(err, os.strerror(err), filename)
    return result


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    _check(_lib().setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_lib().unshare(flags), "unshare")


def mount(
    source: str, target: str | os.PathLike[str], fstype: str, flags: int = 0, data: str = ""
) -> None:
    """mount(2); OSError with the kernel's errno, named after `target`."""
    path = os.fsencode(target)
    options = data.encode() if data else None
    result = _lib().mount(source.encode(), path, fstype.encode(), flags, options)
    _check(result, "mount", os.fsdecode(path))


def umount2(target: str | os.PathLike[str], flags: int = 0) -> None:
    path = os.fsencode(target)
    _check(_lib().umount2(path, flags), "umount", os.fsdecode(path))


def syncfs(fd: int, filename: str | None = None) -> None:
    """syncfs(2) on the filesystem holding `fd`."""
    _check(_lib().syncfs(fd), "syncfs", filename)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0) -> None:
    _check(_lib().prctl(option, arg2, arg3, arg4), "prctl")


def syscall(number: int, *args: object) -> int:
    """A raw syscall (ctypes-typed arguments); its non-negative result, or OSError."""
    return _check(int(_lib().syscall(ctypes.c_long(number), *args)), "syscall")


def pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """A duplicate of descriptor `target_fd` of the process behind `pidfd`, close-on-exec: the
    same open file description, as SCM_RIGHTS would pass it (needs ptrace rights on it)."""
    return syscall(SYS_PIDFD_GETFD, ctypes.c_int(pidfd), ctypes.c_int(target_fd), ctypes.c_uint(0))


def inotify_init1(flags: int) -> int:
    """A new inotify instance's descriptor (flags: os.O_NONBLOCK, os.O_CLOEXEC)."""
    return _check(_lib().inotify_init1(flags), "inotify_init1")


def inotify_add_watch(fd: int, path: str, mask: int) -> int:
    """Watch `path` for the events in `mask`; the watch descriptor."""
    return _check(_lib().inotify_add_watch(fd, os.fsencode(path), mask), "inotify_add_watch", path)
