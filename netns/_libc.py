"""The few libc calls the os module lacks: setns, unshare, mount, umount2.

`ctypes` is loaded on the first call, not at import: `netns` is imported by processes that
never enter a namespace (`pybridge` DEL/VERSION), and ctypes costs a few ms to import.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2


@cache
def _lib() -> Any:
    import ctypes  # noqa: PLC0415 - see the module docstring

    # By soname: ctypes.util.find_library would run ldconfig (about 10 ms) on every start.
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
    ]
    lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.unshare.argtypes = [ctypes.c_int]
    return lib


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes  # noqa: PLC0415 - already loaded by _lib()

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    _check(_lib().setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_lib().unshare(flags), "unshare")


def mount(source: str, target: str, fstype: str, flags: int) -> None:
    _check(
        _lib().mount(source.encode(), target.encode(), fstype.encode(), flags, None),
        f"mount {target}",
    )


def umount2(target: str, flags: int) -> None:
    _check(_lib().umount2(target.encode(), flags), f"umount {target}")
