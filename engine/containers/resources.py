"""Privilege and resource flags, checked as Docker checks them before anything is created:
`--ulimit`, `--sysctl`, `--device`, `--security-opt`, `--cpuset-cpus`, `--memory-swap`,
`--pid` and `--ipc`."""

import os
import re
from collections.abc import Sequence

from engine.containers.errors import InvalidOptionError

ULIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}  # fmt: skip
# Namespaced sysctls, the ones Docker lets a container set (opts/parse.go ValidateSysctl).
SYSCTL_NAMES = (
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
)  # fmt: skip
SYSCTL_PREFIXES = ("fs.mqueue.", "net.")
SECURITY_OPTS = ("no-new-privileges", "seccomp", "apparmor", "label")
NAMESPACE_MODES = ("", "host", "private", "shareable")


def parse_ulimit(item: str) -> tuple[str, int, int]:
    """`name=soft[:hard]` → (RLIMIT_NAME, soft, hard)."""
    name, sep, values = item.partition("=")
    if not sep:
        raise InvalidOptionError(f"invalid ulimit argument: {item}")
    if name not in ULIMITS:
        raise InvalidOptionError(f"invalid ulimit type: {name}")
    soft_text, _, hard_text = values.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidOptionError(f"invalid ulimit argument: {item}") from None
    if soft > hard:
        raise InvalidOptionError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return ULIMITS[name], soft, hard


def check_sysctl(item: str, network: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise InvalidOptionError(f"sysctl '{item}' is not whitelisted")
    if key not in SYSCTL_NAMES and not key.startswith(SYSCTL_PREFIXES):
        raise InvalidOptionError(f"sysctl '{item}' is not whitelisted")
    if key.startswith("net.") and network == "host":
        raise InvalidOptionError(
            f"sysctl '{key}' not allowed with host net namespace"  # Podman's words
        )
    return key, value


def parse_device(item: str) -> tuple[str, str, str]:
    """`HOST[:CONTAINER][:PERMISSIONS]` → (host path, container path, rwm subset)."""
    parts = item.split(":")
    host = parts[0]
    container, perms = host, "rwm"
    if len(parts) == 2:
        if re.fullmatch(r"[rwm]{1,3}", parts[1]):
            perms = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise InvalidOptionError(f"invalid device specification: {item}")
    if not re.fullmatch(r"[rwm]{1,3}", perms):
        raise InvalidOptionError(f"invalid device mode: {perms}")
    if not host.startswith("/") or not container.startswith("/"):
        raise InvalidOptionError(f"{item} is not an absolute path")
    if not os.path.exists(host):
        raise InvalidOptionError(
            f'error gathering device information while adding custom device "{host}": '
            "no such file or directory"
        )
    return host, container, perms


def check_security_opts(items: Sequence[str]) -> None:
    for item in items:
        key, sep, value = item.replace("=", ":", 1).partition(":")
        if key not in SECURITY_OPTS:
            raise InvalidOptionError(f"Invalid --security-opt: {item!r}")
        if key == "no-new-privileges" and sep and value not in ("true", "false"):
            raise InvalidOptionError(f"invalid --security-opt 2: {item!r}")
        if key == "seccomp" and value not in ("unconfined", "") and not os.path.isfile(value):
            raise InvalidOptionError(f"opening seccomp profile ({value}) failed: no such file")


def no_new_privileges(items: Sequence[str]) -> bool:
    for item in reversed(items):
        key, sep, value = item.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges":
            return not sep or value == "true"
    return False


def check_cpuset(text: str, available: int | None = None) -> str:
    """`0-3,5` with every CPU present (Docker: "Requested CPUs are not available")."""
    if not text:
        return ""
    cpus: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.partition("-")
        try:
            lo, hi = int(first), int(last) if sep else int(first)
        except ValueError:
            raise InvalidOptionError(f"invalid value {text} for cpuset cpus") from None
        if lo > hi:
            raise InvalidOptionError(f"invalid value {text} for cpuset cpus")
        cpus |= set(range(lo, hi + 1))
    have = available if available is not None else (os.cpu_count() or 1)
    if max(cpus) >= have:
        raise InvalidOptionError(
            f"Requested CPUs are not available - requested {text}, available: 0-{have - 1}"
        )
    return text


def check_namespace_mode(kind: str, mode: str) -> str:
    """`--pid`/`--ipc`: host, private, shareable (ipc) or container:NAME."""
    if mode.startswith("container:") and len(mode) > len("container:"):
        return mode
    allowed = ("", "host") if kind == "pid" else NAMESPACE_MODES
    if mode not in allowed:
        raise InvalidOptionError(f"--{kind}: invalid {kind.upper()} mode")
    return mode


def memory_swap(memory: int, swap: int) -> int:
    """Docker's rules: `-m` alone gives twice the memory as memory+swap; -1 is unlimited."""
    if swap and not memory and swap != -1:
        raise InvalidOptionError(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if swap and swap != -1 and swap < memory:
        raise InvalidOptionError(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if memory and not swap:
        return 2 * memory
    return swap
