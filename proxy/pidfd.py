"""pidfd_getfd(2), which the os module lacks: the hub takes an invocation's listening socket
and pipes straight from its descriptor table.

proxy is a leaf package (docker-proxy's drop-in, importing nothing of ours), so it cannot
use netns/libc.py, the libc helper of the other packages; this one call is all it needs.
"""

import ctypes
import os
from functools import cache

SYS_PIDFD_GETFD = 438  # the same number on every architecture (Linux 5.6)


@cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """A close-on-exec duplicate of descriptor `target_fd` of the process behind `pidfd`: the
    same open file description, as SCM_RIGHTS would pass it; OSError otherwise."""
    fd = int(
        _libc().syscall(
            ctypes.c_long(SYS_PIDFD_GETFD),
            ctypes.c_int(pidfd),
            ctypes.c_int(target_fd),
            ctypes.c_uint(0),
        )
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pidfd_getfd: {os.strerror(err)}")
    return fd
