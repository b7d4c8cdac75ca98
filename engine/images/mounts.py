"""mount(2), umount2(2) and syncfs(2) through libc, and the mount table from mountinfo.

Called directly rather than through mount(8): one container start would otherwise pay for two
processes, and the kernel's errno says more than mount(8)'s exit status.
"""

import ctypes
import errno
import os
from pathlib import Path

from netns import libc


def mount(source: str, target: Path, fstype: str, data: str, flags: int = 0) -> None:
    """mount(2); raises OSError with the kernel's errno."""
    libc.mount(source, target, fstype, flags, data)


# The new mount API (Linux >= 5.2; `lowerdir+` >= 6.8). Syscalls added since 5.1 share one
# number on every architecture but alpha.
_SYS_MOVE_MOUNT, _SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 429, 430, 431, 432
_FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 1, 6
_CLOEXEC, _MOVE_MOUNT_F_EMPTY_PATH, _AT_FDCWD = 1, 4, -100


def mount_overlay_layers(lowers: list[Path], options: dict[str, str], target: Path) -> None:
    """overlayfs with one `lowerdir+` per layer, for stacks whose mount(2) options would not
    fit in the page that mount(2) allows; `lowers` topmost first."""
    fs_fd = libc.syscall(_SYS_FSOPEN, b"overlay", ctypes.c_uint(_CLOEXEC))
    try:
        try:
            for key, value in [*(("lowerdir+", str(p)) for p in lowers), *options.items()]:
                libc.syscall(
                    _SYS_FSCONFIG, ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_SET_STRING),
                    key.encode(), os.fsencode(value), ctypes.c_int(0),
                )  # fmt: skip
            libc.syscall(_SYS_FSCONFIG, ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_CMD_CREATE),
                     None, None, ctypes.c_int(0))  # fmt: skip
        except OSError as exc:
            detail = _fs_message(fs_fd)
            raise OSError(exc.errno, detail or exc.strerror, str(target)) from None
        mnt_fd = libc.syscall(_SYS_FSMOUNT, ctypes.c_int(fs_fd), ctypes.c_uint(_CLOEXEC),
                          ctypes.c_uint(0))  # fmt: skip
        try:
            libc.syscall(
                _SYS_MOVE_MOUNT, ctypes.c_int(mnt_fd), b"", ctypes.c_int(_AT_FDCWD),
                os.fsencode(target), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
            )  # fmt: skip
        finally:
            os.close(mnt_fd)
    finally:
        os.close(fs_fd)


def _fs_message(fs_fd: int) -> str:
    """The kernel's own explanation, queued on the fs context ("e overlay: ...")."""
    try:
        return os.read(fs_fd, 4096).decode(errors="replace").strip()
    except OSError:
        return ""


def syncfs(path: Path) -> None:
    """syncfs(2) on the filesystem holding `path`: one flush instead of an fsync per file."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        libc.syncfs(fd, str(path))
    finally:
        os.close(fd)


def unmount(target: Path) -> None:
    """Unmount; a busy mount is detached lazily (it goes once its last user does)."""
    try:
        libc.umount2(target)
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        libc.umount2(target, libc.MNT_DETACH)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountpoints() -> list[str]:
    """Mount points of this mount namespace, in mount order."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return [_unescape(line.split()[4]) for line in f if line.strip()]


def mounted_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (the order to unmount them)."""
    base = str(path)
    found = [m for m in mountpoints() if m == base or m.startswith(base + "/")]
    return [Path(m) for m in sorted(set(found), key=len, reverse=True)]
