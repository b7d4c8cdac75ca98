"""Rootfs, bundles and a private containerd for the engine bench; everything is undone on exit.

containerd 1.6 and its shim put sockets and fifos under /run/containerd whatever the config says,
so the peer runs in a private mount namespace with a tmpfs over /run: nothing of the host's
/run (or any containerd running there) is touched, and the tmpfs vanishes with the namespace.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from engine.runtime.spec import SpecOptions, write_bundle

BUSYBOX = "/bin/busybox"
NAMESPACE = "pyb-bench"


def make_rootfs(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    for applet in ("sh", "true", "sleep"):
        os.symlink("busybox", path / "bin" / applet)
    for d in ("proc", "dev", "sys", "tmp", "etc"):
        (path / d).mkdir()
    return path


def make_bundle(path: Path, rootfs: Path, args: tuple[str, ...]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    write_bundle(path, SpecOptions(rootfs=str(rootfs), args=args, env=("PATH=/bin",)))
    return path


def which(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )


class Containerd:
    """containerd with its own root/state/address, in a private mount namespace."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.address = str(base / "containerd.sock")
        self.proc: subprocess.Popen[bytes] | None = None
        config = base / "containerd.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{base / "ctd-root"}"\n'
            'state = "/run/containerd"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.address}"\n'
        )
        self.config = config

    def start(self) -> None:
        script = 'mount -t tmpfs pyb-run /run && exec containerd --config "$0"'
        log = open(self.base / "containerd.log", "wb")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                str(self.config),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ctr("version", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"containerd did not start; see {self.base / 'containerd.log'}")

    @property
    def pid(self) -> int:
        """containerd's own pid (unshare and sh exec into it)."""
        assert self.proc is not None
        return self.proc.pid

    def ctr_argv(self, *args: str) -> list[str]:
        return [
            "nsenter",
            "-t",
            str(self.pid),
            "-m",
            "ctr",
            "--address",
            self.address,
            "--namespace",
            NAMESPACE,
            *args,
        ]

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.ctr_argv(*args), capture_output=True, check=check)

    def shim_pids(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if (
                argv
                and argv[0].endswith(b"containerd-shim-runc-v2")
                and (self.address.encode() in argv)
            ):
                pids.append(int(entry))
        return pids

    def stop(self) -> None:
        for cid in self.ctr("tasks", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("tasks", "kill", "-s", "KILL", cid, check=False)
        time.sleep(0.2)
        for cid in self.ctr("containers", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("tasks", "rm", "-f", cid, check=False)
            self.ctr("containers", "rm", cid, check=False)
        for pid in self.shim_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def new_base() -> Path:
    return Path(tempfile.mkdtemp(prefix="pyb-", dir="/tmp"))


def remove_cgroups(prefix: str) -> None:
    """rmdir leftover cgroup parents a peer created (containerd's /<namespace>)."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        target = hierarchy / prefix
        if target.is_dir():
            for d in sorted(target.rglob("*"), key=lambda p: len(str(p)), reverse=True):
                if d.is_dir():
                    with contextlib.suppress(OSError):
                        d.rmdir()
            with contextlib.suppress(OSError):
                target.rmdir()


APPLETS = ("sh", "true", "sleep", "httpd", "seq")


def busybox_tar(path: Path) -> Path:
    """A busybox rootfs tarball (/bin/busybox + applet links) for `docker import`."""
    import tarfile

    with tarfile.open(path, "w") as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "www"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        with open(BUSYBOX, "rb") as f:
            info = tar.gettarinfo(arcname="bin/busybox", fileobj=f)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, f)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
    return path
