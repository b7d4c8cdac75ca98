"""What the warm process takes from a client process to become its command: the kernel's own
record of it under /proc, and its stdin, stdout and stderr through pidfd_getfd(2)."""

import contextlib
import os
from dataclasses import dataclass

from netns import libc

# A worker runs in the server's namespaces; a client in any other is not served.
NAMESPACES = ("net", "mnt", "pid", "ipc", "uts", "user", "cgroup")


@dataclass(frozen=True)
class Caller:
    """A client process as a command to run: its descriptors are the worker's to close."""

    pid: int
    argv0: str
    argv: tuple[str, ...]
    env: dict[str, str]
    umask: int
    cwd_fd: int  # the working directory, held open (it may be removed, or be reached by no path)
    stdio: tuple[int, int, int]

    def close(self) -> None:
        for fd in (self.cwd_fd, *self.stdio):
            with contextlib.suppress(OSError):
                os.close(fd)


def same_user(pid: int) -> bool:
    """Whether process `pid` runs as this process's user (owns its /proc directory)."""
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.geteuid()
    except OSError:
        return False


def same_namespaces(pid: int) -> bool:
    """Whether process `pid` lives in every namespace this process lives in: only then may a
    worker of ours act for it."""
    try:
        return all(
            os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino
            for kind in NAMESPACES
        )
    except OSError:  # gone, or not visible from here (another pid namespace)
        return False


def take(pidfd: int, pid: int, argc: int) -> Caller:
    """The client behind `pidfd` as a command; OSError if it is gone or refuses us its
    descriptors, ValueError if its command line is shorter than `argc` words."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        words = f.read().split(b"\0")[:-1]
    if len(words) < argc:
        raise ValueError(f"process {pid} has {len(words)} words on its command line, not {argc}")
    with open(f"/proc/{pid}/environ", "rb") as f:
        entries = f.read().split(b"\0")[:-1]
    with open(f"/proc/{pid}/status", "rb") as f:
        umask = next((int(line.split()[1], 8) for line in f if line.startswith(b"Umask:")), 0o022)
    command = [os.fsdecode(word) for word in words[-argc:]]
    env = {}
    for entry in map(os.fsdecode, entries):
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
    taken: list[int] = []
    try:
        taken.append(os.open(f"/proc/{pid}/cwd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        for fd in (0, 1, 2):
            taken.append(libc.pidfd_getfd(pidfd, fd))
    except OSError:
        for fd in taken:
            os.close(fd)
        raise
    cwd_fd, stdin, stdout, stderr = taken
    return Caller(pid, command[0], tuple(command[1:]), env, umask, cwd_fd, (stdin, stdout, stderr))
