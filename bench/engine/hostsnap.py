"""A snapshot of what the two engines change on the host, and an exact undo of it.

Taken before either engine starts: the nftables tables (plus `iptables-save` output for the
iptables-nft tables dockerd writes), the forwarding sysctls and the few fixed paths dockerd or the
docker CLI may create. `restore` deletes the iptables-nft tables that appeared, puts back the ones
that changed, rewrites changed sysctls and removes created paths; any other difference is only
reported, so another user of the host is never clobbered. (The bench's own equivalent of
tests/support/hoststate.py, which the bench must not import.)
"""

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

XTABLES = frozenset(
    (family, name)
    for family in ("ip", "ip6")
    for name in ("filter", "nat", "mangle", "raw", "security")
)
TABLE_CMDS = {
    "ip": ("iptables-save", "iptables-restore"),
    "ip6": ("ip6tables-save", "ip6tables-restore"),
}
SYSCTL_FILES = ("net/ipv4/ip_forward",)
SYSCTL_DIRS = (
    "net/ipv4/conf/all",
    "net/ipv4/conf/default",
    "net/ipv6/conf/all",
    "net/ipv6/conf/default",
    "net/bridge",
)
WATCHED_PATHS = ("/etc/docker/key.json", "/etc/docker", os.path.expanduser("~/.docker"))
PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"


def sh(argv: list[str], *, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        check=False,
        env=dict(os.environ, PATH=PATH),
    )
    if check and done.returncode:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def nft_tables() -> dict[tuple[str, str], str]:
    """Every nftables table -> its stateless listing."""
    tables = {}
    for line in sh(["nft", "list", "tables"]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            tables[(parts[1], parts[2])] = sh(["nft", "-s", "list", "table", parts[1], parts[2]])
    return tables


def read_sysctls() -> dict[str, str]:
    paths = [Path("/proc/sys", f) for f in SYSCTL_FILES]
    for d in SYSCTL_DIRS:
        if (base := Path("/proc/sys", d)).is_dir():
            paths += sorted(p for p in base.iterdir() if p.is_file())
    values = {}
    for p in paths:
        with contextlib.suppress(OSError):
            values[str(p.relative_to("/proc/sys"))] = p.read_text().strip()
    return values


@dataclass
class HostSnapshot:
    tables: dict[tuple[str, str], str]
    saves: dict[tuple[str, str], str]
    sysctls: dict[str, str]
    paths: dict[str, bool]

    @classmethod
    def take(cls) -> "HostSnapshot":
        tables = nft_tables()
        saves = {
            key: sh([TABLE_CMDS[key[0]][0], "-t", key[1]])
            for key in tables
            if key in XTABLES and shutil.which(TABLE_CMDS[key[0]][0], path=PATH)
        }
        paths = {p: os.path.lexists(p) for p in WATCHED_PATHS}
        return cls(tables, saves, read_sysctls(), paths)

    def docker_chains(self) -> bool:
        """Whether some dockerd already keeps its chains here (then ours must not run)."""
        return any("chain DOCKER" in self.tables.get(k, "") for k in XTABLES)

    def restore(self, *, ours: tuple[tuple[str, str], ...] = ()) -> list[str]:
        """Undo the firewall, sysctl and path changes; return what could not be put back.

        `ours` are tables of our own (pyengine's) that are deleted whatever the snapshot says."""
        notes = []
        now = nft_tables()
        for key in ours:
            if key in now:
                sh(["nft", "delete", "table", *key], check=False)
        for key in sorted(now.keys() - self.tables.keys() - set(ours)):
            if key in XTABLES:
                sh(["nft", "delete", "table", *key])
            else:
                notes.append(f"nft table {key} appeared meanwhile (not ours): left alone")
        for key, text in sorted(self.tables.items()):
            if key not in XTABLES or now.get(key) == text:
                continue
            try:
                script = (f"delete table {key[0]} {key[1]}\n" if key in now else "") + text
                sh(["nft", "-f", "-"], input=script)
            except RuntimeError:
                sh([TABLE_CMDS[key[0]][1]], input=self.saves[key])
        first = "net/ipv4/ip_forward"  # first: writing it resets conf.*.forwarding
        for name in [first, *sorted(set(self.sysctls) - {first})]:
            value = self.sysctls.get(name)
            entry = Path("/proc/sys", name)
            with contextlib.suppress(OSError):
                if value is not None and entry.read_text().strip() != value:
                    entry.write_text(value + "\n")
        for path in WATCHED_PATHS:  # deepest first
            if self.paths[path] or not os.path.lexists(path):
                continue
            try:
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
            except OSError as e:
                notes.append(f"created {path}, cannot remove it: {e}")
        after = HostSnapshot.take()
        for key in sorted(self.tables.keys() | after.tables.keys()):
            if key in XTABLES and self.tables.get(key) != after.tables.get(key):
                notes.append(f"nft table {key} still differs from the snapshot")
        notes += [
            f"sysctl {k}: {self.sysctls.get(k)} -> {after.sysctls.get(k)}"
            for k in sorted(self.sysctls.keys() | after.sysctls.keys())
            if self.sysctls.get(k) != after.sysctls.get(k)
        ]
        return notes
