"""Privileges and resources written into a container's OCI config: `--privileged`,
`--security-opt no-new-privileges`, `--ulimit`, `--sysctl`, `--device`, `--group-add`,
`--shm-size`, `--memory-swap`, `--cpu-shares`, `--cpuset-cpus`, `--oom-kill-disable`,
`--pid` and `--ipc`, as Docker writes them (moby daemon/oci_linux.go)."""

import os
import stat
from pathlib import Path
from typing import Any

from engine.containers import resources
from engine.containers.errors import InvalidOptionError
from engine.containers.hostopts import host_capabilities
from engine.containers.record import ContainerRecord

DEFAULT_SHM = 64 * 1024 * 1024


def _device(host: str, container: str, perms: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The device node and its cgroup rule."""
    st = os.stat(host)
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
    if not kind:
        raise InvalidOptionError(f"{host} is not a device")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": container, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}  # fmt: skip
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}
    return node, rule


def host_devices() -> list[tuple[str, str, str]]:
    """Every device node under the host's /dev (--privileged gives them all), but the
    terminal ones the container has its own of."""
    found = []
    for folder, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "mqueue")]
        for name in files:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and path not in (
                "/dev/console",
                "/dev/ptmx",
                "/dev/tty",
            ):
                found.append((path, path, "rwm"))
    return found


def _gids(rootfs: Path, names: tuple[str, ...]) -> list[int]:
    gids = []
    try:
        groups = (rootfs / "etc/group").read_text(errors="replace").splitlines()
    except OSError:
        groups = []
    for name in names:
        if name.isdigit():
            gids.append(int(name))
            continue
        entry = next((g.split(":") for g in groups if g.split(":")[0] == name), None)
        if entry is None or len(entry) < 3:
            raise InvalidOptionError(
                f"Unable to find group {name}: no matching entries in group file"
            )
        gids.append(int(entry[2]))
    return gids


def apply(
    doc: dict[str, Any],
    record: ContainerRecord,
    rootfs: Path,
    namespaces: dict[str, str] | None = None,
) -> None:
    """Change the generated config.json `doc` for the record's flags. `namespaces` maps
    `pid`/`ipc` to a path to join (`container:X`), resolved by the caller."""
    host = record.host
    process, linux = doc["process"], doc["linux"]
    res = linux.setdefault("resources", {})
    process["noNewPrivileges"] = resources.no_new_privileges(host.security_opts)
    limits = {r["type"]: r for r in process.get("rlimits", [])}
    for item in host.ulimits:
        name, soft, hard = resources.parse_ulimit(item)
        limits[name] = {"type": name, "soft": soft, "hard": hard}
    process["rlimits"] = list(limits.values())
    if host.sysctls:
        linux["sysctl"] = dict(resources.check_sysctl(s, host.network) for s in host.sysctls)
    if host.group_add:
        process["user"]["additionalGids"] = _gids(rootfs, host.group_add)
    for mount in doc["mounts"]:
        if mount["destination"] == "/dev/shm":
            size = host.shm_size or DEFAULT_SHM
            mount["options"] = [o for o in mount["options"] if not o.startswith("size=")]
            mount["options"].append(f"size={size // 1024}k")
    memory = res.setdefault("memory", {})
    if host.memory_swap:
        memory["swap"] = host.memory_swap
    if host.oom_kill_disable:
        memory["disableOOMKiller"] = True
    if not memory:
        del res["memory"]
    cpu = res.setdefault("cpu", {})
    if host.cpu_shares:
        cpu["shares"] = host.cpu_shares
    if host.cpuset_cpus:
        cpu["cpus"] = host.cpuset_cpus
    if not cpu:
        del res["cpu"]
    kept = []
    joined = namespaces or {}
    for ns in linux["namespaces"]:
        kind = ns["type"]
        mode = {"pid": host.pid_mode, "ipc": host.ipc_mode}.get(kind, "")
        if mode == "host":
            continue
        if kind in joined:
            ns = {"type": kind, "path": joined[kind]}
        kept.append(ns)
    linux["namespaces"] = kept
    devices = [resources.parse_device(d) for d in host.devices]
    if host.privileged:
        _privileged(doc)
        devices = host_devices() + devices
    nodes = linux.setdefault("devices", [])
    for spec in devices:
        node, rule = _device(*spec)
        nodes.append(node)
        if not host.privileged:
            res.setdefault("devices", []).append(rule)


def _privileged(doc: dict[str, Any]) -> None:
    """Docker's --privileged: every capability, every device, nothing masked or read-only,
    /sys writable."""
    caps = [f"CAP_{c}" for c in host_capabilities()]
    doc["process"]["capabilities"] = dict.fromkeys(("bounding", "effective", "permitted"), caps)
    linux = doc["linux"]
    linux["maskedPaths"] = []
    linux["readonlyPaths"] = []
    linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    for mount in doc["mounts"]:
        if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
            mount["options"] = [o for o in mount.get("options", []) if o != "ro"]
