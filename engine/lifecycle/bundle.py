"""The OCI bundle of a container: config.json from its record, image root and network."""

import dataclasses
import json
import os
import resource
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.containers.errors import InvalidOptionError
from engine.containers.hostopts import HOST_GATEWAY, capabilities
from engine.containers.record import ContainerRecord, HostConfig
from engine.lifecycle import hosts, security
from engine.private import write_private
from engine.runtime import spec

# Docker's default capability set (moby oci/caps/defaults.go), wider than `runc spec`'s.
_CAPS = (
    "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP "
    "NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE"
)
DOCKER_CAPS = tuple(f"CAP_{c}" for c in _CAPS.split())
INIT_PATH = "/sbin/docker-init"
HOST_INIT = "/usr/bin/docker-init"
CPU_PERIOD = 100_000


def _nofile() -> tuple[int, int]:
    """The container's open-file limit: as high as this host lets us go (Docker gives 1048576
    where the daemon may; a higher limit than our own hard one is refused by the kernel)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    return limit, limit


def _lookup(path: Path, name: str) -> tuple[int, int] | None:
    """uid and gid of `name` in a passwd-format file, or gid of a group file entry."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return None


def resolve_user(rootfs: Path, user: str) -> tuple[int, int]:
    """`-u name|uid[:group|gid]` against the image's /etc/passwd and /etc/group."""
    if not user:
        return 0, 0
    who, _, group = user.partition(":")
    if who.isdigit():
        uid, gid = int(who), 0
        found = None
    else:
        found = _lookup(rootfs / "etc/passwd", who)
        if found is None:
            raise InvalidOptionError(
                f"unable to find user {who}: no matching entries in passwd file"
            )
        uid, gid = found
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            entry = _lookup(rootfs / "etc/group", group)
            if entry is None:
                raise InvalidOptionError(
                    f"unable to find group {group}: no matching entries in group file"
                )
            gid = entry[0]
    return uid, gid


def _resolv_conf(host_file: Path, host: HostConfig) -> str:
    """The host's resolv.conf without loopback nameservers, which mean nothing inside the
    container's namespace (Docker filters them the same way); `--dns`, `--dns-search` and
    `--dns-option` replace the host's lines of their kind."""
    try:
        lines = host_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    kept = [
        line
        for line in lines
        if not (line.startswith("nameserver") and line.split()[1:2] in (["127.0.0.1"], ["::1"]))
        and not line.startswith("nameserver 127.")
    ]
    replaced = (
        ("nameserver", [f"nameserver {s}" for s in host.dns]),
        ("search", [f"search {' '.join(host.dns_search)}"] if host.dns_search else []),
        ("options", [f"options {' '.join(host.dns_options)}"] if host.dns_options else []),
    )
    for keyword, given in replaced:
        if given:
            kept = [line for line in kept if line.split()[:1] != [keyword]] + given
    return "\n".join(kept) + "\n"


def hostname_of(record: ContainerRecord) -> str:
    """`--hostname`, else the short id (Docker's default)."""
    return record.config.hostname or record.id[:12]


def extra_hosts(record: ContainerRecord, gateway: str) -> list[tuple[str, str]]:
    """`--add-host` entries; `host-gateway` is the container's gateway (the host's side of
    its network), or 127.0.0.1 with host networking."""
    entries = []
    for item in record.host.extra_hosts:
        name, _, address = item.partition(":")
        if address == HOST_GATEWAY:
            address = gateway or "127.0.0.1"
        entries.append((name, address))
    return entries


def write_etc(
    bundle: Path,
    record: ContainerRecord,
    ip: str,
    peers: Sequence[hosts.Peer] = (),
    *,
    gateway: str = "",
    linked: Sequence[tuple[str, str]] = (),
) -> None:
    """hosts, hostname and resolv.conf for the container, bind-mounted over its /etc.

    `peers` are the other containers on its user network (`hosts.peers_for`); later changes
    reach the hosts file in place (`hosts.sync`), so it must stay this same file.
    """
    bundle.mkdir(parents=True, exist_ok=True)
    hostname = hostname_of(record)
    extra = [*extra_hosts(record, gateway), *linked]  # legacy links: (names, address)
    text = hosts.render(ip, hostname, record.host.network, record.name, peers, extra=extra)
    (bundle / "hosts").write_text(text)
    (bundle / "hostname").write_text(hostname + "\n")
    host = record.host
    if gateway and hosts.on_user_network(host.network) and not host.dns:
        # The network's DNS server (engine/dns) answers for its containers and forwards the
        # rest; `--dns` bypasses it, as with Podman's aardvark-dns.
        host = dataclasses.replace(host, dns=(gateway,))
    (bundle / "resolv.conf").write_text(_resolv_conf(Path("/etc/resolv.conf"), host))


def share_etc(source: Path, bundle: Path) -> None:
    """`--network container:X`: X's own hosts, hostname and resolv.conf, as hard links, so
    that X's later changes (peers coming and going) reach both; X's removal leaves ours."""
    bundle.mkdir(parents=True, exist_ok=True)
    for name in ("hosts", "hostname", "resolv.conf"):
        mine = bundle / name
        mine.unlink(missing_ok=True)
        os.link(source / name, mine)


def write(
    record: ContainerRecord,
    bundle: Path,
    rootfs: Path,
    netns_path: str | None,
    *,
    user_mounts: Sequence[dict[str, Any]] = (),
    link_env: Sequence[str] = (),
    namespaces: dict[str, str] | None = None,
) -> Path:
    """config.json for this container, with the OCI mounts of its volumes, binds and tmpfs
    (`mountpoints.prepare`) after the engine's own; returns its path."""
    cfg, host = record.config, record.host
    args = cfg.entrypoint + cfg.cmd
    mounts: list[dict[str, Any]] = []
    if host.init:
        args = (INIT_PATH, "--", *args)
        mounts.append(
            {"destination": INIT_PATH, "type": "bind", "source": HOST_INIT,
             "options": ["bind", "ro"]}
        )  # fmt: skip
    for name in ("resolv.conf", "hosts", "hostname"):
        source = bundle / name
        if source.exists():
            mounts.append(
                {"destination": f"/etc/{name}", "type": "bind", "source": str(source),
                 "options": ["rbind", "rprivate"]}
            )  # fmt: skip
    mounts.extend(user_mounts)
    uid, gid = resolve_user(rootfs, cfg.user)
    env = cfg.env if any(e.startswith("PATH=") for e in cfg.env) else (*spec.DEFAULT_ENV, *cfg.env)
    env = (*env, *link_env)
    if cfg.tty and not any(e.startswith("TERM=") for e in env):
        env = (*env, "TERM=xterm")
    opts = spec.SpecOptions(
        rootfs=str(rootfs),
        args=args,
        env=env,
        cwd=cfg.workdir or "/",
        hostname=hostname_of(record),
        terminal=cfg.tty,
        uid=uid,
        gid=gid,
        netns_path="host" if host.network == "host" else netns_path,
        cgroups_path=f"/pyengine/{record.id}",
        rlimits={"RLIMIT_NOFILE": _nofile()},
        capabilities=capabilities(DOCKER_CAPS, host.cap_add, host.cap_drop),
        extra_mounts=tuple(mounts),
        readonly_rootfs=host.read_only,
        memory_limit=host.memory or None,
        pids_limit=host.pids_limit if host.pids_limit > 0 else None,
    )
    doc = spec.generate(opts)
    if host.nano_cpus:
        doc["linux"]["resources"]["cpu"] = {
            "period": CPU_PERIOD,
            "quota": host.nano_cpus * CPU_PERIOD // 1_000_000_000,
        }
    security.apply(doc, record, rootfs, namespaces)
    if cfg.domainname:
        # The UTS namespace's NIS domain: OCI's `domainname` for runtimes that know it, and
        # the sysctl for runc before 1.2, which ignores that field.
        doc["domainname"] = cfg.domainname
        doc["linux"].setdefault("sysctl", {})["kernel.domainname"] = cfg.domainname
    bundle.mkdir(parents=True, exist_ok=True)
    path = bundle / "config.json"
    write_private(path, json.dumps(doc, indent=1), durable=False)  # it holds the environment
    return path
