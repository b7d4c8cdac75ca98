"""`--hostname`, `--add-host`, `--dns*` and `--cap-add/--cap-drop`, checked as Docker checks
them, before anything is created."""

import ipaddress
import re
from collections.abc import Sequence

from engine.containers.errors import InvalidOptionError

HOST_GATEWAY = "host-gateway"  # --add-host NAME:host-gateway: the container's gateway
# RFC 1123 names, as Podman checks them (Docker passes anything to sethostname).
HOSTNAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?")
# Every capability by name (linux/capability.h), without the CAP_ prefix, in the kernel's
# numbering: CHOWN is 0.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip


def host_capabilities() -> tuple[str, ...]:
    """The capabilities this engine may grant (`ALL`, --privileged): those in its own bounding
    set, as Docker reads them (an older kernel lacks newer ones; a VM or an outer container may
    withhold some; runc cannot give what it has not: "unable to apply caps")."""
    try:
        with open("/proc/self/status") as f:
            bits = next(int(ln.split()[1], 16) for ln in f if ln.startswith("CapBnd:"))
    except (OSError, ValueError, StopIteration):
        return CAPABILITIES
    return tuple(name for number, name in enumerate(CAPABILITIES) if bits >> number & 1)


def check_hostname(name: str) -> str:
    if name and not HOSTNAME.fullmatch(name):
        raise InvalidOptionError(f"invalid hostname format: {name}")
    return name


def parse_add_host(item: str) -> tuple[str, str]:
    """`NAME:IP` (IPv6 after the first colon, as Docker splits it); IP may be host-gateway."""
    name, sep, ip = item.partition(":")
    if not sep or not name or not ip:
        raise InvalidOptionError(f'invalid argument "{item}" for "--add-host" flag: bad format '
                                 f'for add-host: "{item}"')  # fmt: skip
    if ip != HOST_GATEWAY:
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise InvalidOptionError(f'invalid IP address in add-host: "{ip}"') from None
    return name, ip.strip("[]")


MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def check_mac(mac: str) -> str:
    """A unicast `aa:bb:cc:dd:ee:ff` (lower-cased), Docker's message otherwise."""
    if mac and (not MAC.fullmatch(mac) or int(mac[:2], 16) & 1):
        raise InvalidOptionError(f"{mac} is not a valid mac address")
    return mac.lower()


def check_dns(servers: Sequence[str]) -> tuple[str, ...]:
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidOptionError(f"{server} is not an ip address") from None
    return tuple(servers)


def _cap_name(word: str) -> str:
    name = word.upper().removeprefix("CAP_")
    if name != "ALL" and name not in CAPABILITIES:
        raise InvalidOptionError(f'unknown capability: "{word}"')
    return name


def capabilities(base: Sequence[str], add: Sequence[str], drop: Sequence[str]) -> tuple[str, ...]:
    """Docker's merge (oci/caps TweakCapabilities): drop ALL empties the base, add ALL gives
    every one; an explicit add wins over a drop."""
    adding = [_cap_name(w) for w in add]
    dropping = [_cap_name(w) for w in drop]
    names = [c.removeprefix("CAP_") for c in base]
    if "ALL" in dropping:
        names = []
    names = [n for n in names if n not in dropping]
    if "ALL" in adding:
        names = list(host_capabilities())
    names += [n for n in adding if n != "ALL" and n not in names]
    return tuple(f"CAP_{n}" for n in names)


def check_capabilities(add: Sequence[str], drop: Sequence[str]) -> None:
    for word in (*add, *drop):
        _cap_name(word)
