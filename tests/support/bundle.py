"""Busybox-static root filesystems and OCI bundles for real-runc tests, and leak checks."""

import os
import shutil
import subprocess
from pathlib import Path

from engine.runtime.spec import SpecOptions, write_bundle

BUSYBOX = "/bin/busybox"
_APPLETS: list[str] = []


def applets() -> list[str]:
    if not _APPLETS:
        out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
        _APPLETS.extend(a for a in out.stdout.split() if a and "/" not in a)
    return _APPLETS


def make_rootfs(path: Path) -> Path:
    """bin/busybox plus one symlink per applet; /proc /dev /sys /tmp /etc mount points."""
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for name in applets():
        if name != "busybox":
            os.symlink("busybox", path / "bin" / name)
    for d in ("proc", "dev", "sys", "tmp", "etc", "root"):
        (path / d).mkdir()
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return path


def make_bundle(path: Path, args: tuple[str, ...] = ("true",), **spec: object) -> Path:
    """path/rootfs (busybox) and path/config.json for args; spec overrides SpecOptions."""
    path.mkdir(parents=True, exist_ok=True)
    rootfs = make_rootfs(path / "rootfs")
    spec.setdefault("env", ("PATH=/bin", "HOME=/root"))
    write_bundle(path, SpecOptions(rootfs=str(rootfs), args=args, **spec))  # type: ignore[arg-type]
    return path


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        out.extend(kids)
        todo.extend(kids)
    return out


def proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def zombies_under(pid: int) -> list[int]:
    return [p for p in descendants(pid) if proc_state(p) == "Z"]


def cgroup_dirs(name: str) -> list[str]:
    """Every cgroup directory (v1 hierarchies and unified) whose path contains name."""
    found = []
    for base in Path("/sys/fs/cgroup").iterdir():
        if not base.is_dir():
            continue
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                if name in d:
                    found.append(os.path.join(root, d))
            if root.count("/") > 6:
                dirs[:] = []
    return found


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path)]
