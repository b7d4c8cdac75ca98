"""A snapshot of what a private dockerd changes on the host, and an exact undo of it.

`HostState.take()` records the links, nftables tables (plus `iptables-save` output for the
iptables-nft ones), forwarding sysctls and the few paths that dockerd and containerd create
outside their roots (`WATCHED_PATHS`). `restore_firewall` and `restore_sysctls` put them back;
`compare` lists whatever still differs.

Only the iptables-nft tables dockerd can create (`XTABLES`) are ever restored or deleted; any other
difference in the ruleset is reported, never "fixed", so a concurrent user of the host is not
clobbered.
"""

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

XTABLES = frozenset(
    (family, name)
    for family in ("ip", "ip6")
    for name in ("filter", "nat", "mangle", "raw", "security")
)
SYSCTL_FILES = ("net/ipv4/ip_forward",)
SYSCTL_DIRS = (
    "net/ipv4/conf/all",
    "net/ipv4/conf/default",
    "net/ipv6/conf/all",
    "net/ipv6/conf/default",
    "net/bridge",
)
# Created by dockerd/containerd/the CLI at fixed places, whatever roots they are given.
WATCHED_PATHS = (
    "/etc/docker/key.json",
    "/run/docker/plugins",
    "/run/docker",
    "/run/containerd/s",
    "/run/containerd",
    "/var/lib/docker",
    "/var/lib/containerd",
    os.path.expanduser("~/.docker"),
)
TABLE_CMDS = {
    "ip": ("iptables-save", "iptables-restore"),
    "ip6": ("ip6tables-save", "ip6tables-restore"),
}


def search_path() -> str:
    """$PATH plus the sbin directories (ip, nft, iptables-save, runc live there)."""
    return f"{os.environ.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    done = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input,
        env=dict(os.environ, PATH=search_path()) if env is None else env,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def nft_tables() -> dict[tuple[str, str], str]:
    """Every nftables table in this netns -> its stateless listing (no counters)."""
    tables = {}
    for line in run(["nft", "list", "tables"]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            key = (parts[1], parts[2])
            tables[key] = run(["nft", "-s", "list", "table", *key])
    return tables


def read_sysctls() -> dict[str, str]:
    values = {}
    paths = [Path("/proc/sys", f) for f in SYSCTL_FILES]
    for d in SYSCTL_DIRS:
        base = Path("/proc/sys", d)
        if base.is_dir():
            paths += sorted(p for p in base.iterdir() if p.is_file())
    for p in paths:
        with contextlib.suppress(OSError):  # e.g. stable_secret: EIO until set
            values[str(p.relative_to("/proc/sys")).replace("/", ".")] = p.read_text().strip()
    return values


def links() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def cgroup_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        if right.split()[0] in ("cgroup", "cgroup2"):
            mounts.append(left.split()[4])
    return mounts


def mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(root) or point.startswith(prefix):
            points.append(point)
    return points


@dataclass
class HostState:
    links: set[str]
    tables: dict[tuple[str, str], str]
    xtables_saves: dict[tuple[str, str], str]
    sysctls: dict[str, str]
    paths: dict[str, bool]

    @classmethod
    def take(cls) -> "HostState":
        tables = nft_tables()
        saves = {}
        for family, name in tables:
            if (family, name) in XTABLES and shutil.which(
                TABLE_CMDS[family][0], path=search_path()
            ):
                saves[(family, name)] = run([TABLE_CMDS[family][0], "-t", name])
        return cls(
            links=links(),
            tables=tables,
            xtables_saves=saves,
            sysctls=read_sysctls(),
            paths={p: os.path.lexists(p) for p in WATCHED_PATHS},
        )


def restore_firewall(before: HostState) -> list[str]:
    """Put dockerd's iptables-nft tables back exactly; report (only) any other difference."""
    notes = []
    now = nft_tables()
    for key in sorted(now.keys() - before.tables.keys()):
        if key in XTABLES:
            run(["nft", "delete", "table", *key])
        else:
            notes.append(f"nft table {key} appeared, not one dockerd creates: left alone")
    for key, text in sorted(before.tables.items()):
        if key not in XTABLES or now.get(key) == text:
            continue
        try:  # one transaction: replace the table with its saved listing
            script = (f"delete table {key[0]} {key[1]}\n" if key in now else "") + text
            run(["nft", "-f", "-"], input=script)
        except RuntimeError:  # xt matches nft cannot print back: let iptables-restore do it
            run([TABLE_CMDS[key[0]][1]], input=before.xtables_saves[key])
    return notes


def restore_sysctls(before: Mapping[str, str]) -> None:
    def write(name: str, value: str) -> None:
        Path("/proc/sys", name.replace(".", "/")).write_text(value + "\n")

    # ip_forward first: writing it also resets conf.*.forwarding and conf.all.accept_redirects.
    first = "net.ipv4.ip_forward"
    now = read_sysctls()
    if first in before and now.get(first) != before[first]:
        write(first, before[first])
    now = read_sysctls()
    for name, value in before.items():
        if now.get(name) != value:
            write(name, value)


def compare(before: HostState, after: HostState) -> list[str]:
    problems = []
    if added := after.links - before.links:
        problems.append(f"links left behind: {sorted(added)}")
    if removed := before.links - after.links:
        problems.append(f"links gone: {sorted(removed)}")
    for key in sorted(before.tables.keys() | after.tables.keys()):
        if before.tables.get(key) != after.tables.get(key):
            was, now = before.tables.get(key, "(absent)"), after.tables.get(key, "(absent)")
            problems.append(f"nft table {key} differs from the snapshot:\n{was}\n--- now:\n{now}")
    for name in sorted(before.sysctls.keys() | after.sysctls.keys()):
        if before.sysctls.get(name) != after.sysctls.get(name):
            problems.append(
                f"sysctl {name}: {before.sysctls.get(name)} -> {after.sysctls.get(name)}"
            )
    for path, existed in before.paths.items():
        if after.paths[path] != existed:
            problems.append(f"{path}: existed={existed} before, {after.paths[path]} after")
    return problems
