"""A private dockerd for tests, and an exact undo of everything it does to the host.

`DockerHost` snapshots the host (see `tests.support.hoststate`), then creates its own bridge and
starts its own dockerd with its own data/exec roots, socket, pidfile, key, cgroup parent and
containerd (which dockerd spawns itself when `--containerd` is not given). `teardown()` is
idempotent and undoes it all: containers, processes (by pid, see `tests.support.procs`), mounts,
the bridge, iptables-nft tables, sysctls, cgroups, directories. It returns what it could not put
back, so a test can assert that the list is empty.

Also here: the busybox rootfs that the tests import as an image (no registry), and the ports and
argv parsing that tests of dockerd's userland proxy need.
"""

import ctypes
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.support import ports
from tests.support.hoststate import (
    WATCHED_PATHS,
    HostState,
    cgroup_mounts,
    compare,
    links,
    mounts_under,
    restore_firewall,
    restore_sysctls,
    run,
    search_path,
)
from tests.support.procs import Proc, all_procs, descendants, kill_and_reap, read_proc
from tests.support.proxyproc import hub_pids

BRIDGE = "ppdk-test0"
GATEWAY = "10.213.7.1"
SUBNET = ipaddress.ip_network("10.213.7.0/24")

PR_SET_PDEATHSIG = 1


def pyproxy_path() -> str:
    """The venv's console script, unresolved: dockerd runs exactly this path."""
    return os.path.abspath(os.path.join(os.path.dirname(sys.executable), "pyproxy"))


# --------------------------------------------------------------------------------------- proxy


def proxy_args(proc: Proc, path: str) -> dict[str, str] | None:
    """`-flag value` pairs after the pyproxy script in argv, or None if it is not pyproxy.

    In shared mode the process dockerd started is a shell whose argv is `path -c SCRIPT path
    ARGS...`: the arguments follow the last occurrence of the path.
    """
    if path not in proc.argv:
        return None
    last = len(proc.argv) - 1 - proc.argv[::-1].index(path)
    args = proc.argv[last + 1 :]
    return {args[i].lstrip("-"): args[i + 1] for i in range(0, len(args) - 1, 2)}


# ------------------------------------------------------------------------------------- sockets


def ipv6_listenable() -> bool:
    """dockerd's IsV6Listenable: it starts a `::` proxy next to the `0.0.0.0` one only if true."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port_everywhere() -> int:
    """A TCP port free on 0.0.0.0 and (where available) [::], for a publish without host IP."""
    return ports.free_port_everywhere(ipv6_listenable())


# -------------------------------------------------------------------------------------- images


def is_static_elf(path: str) -> bool:
    """An ELF file without a PT_INTERP program header (so it runs in an empty rootfs)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only; enough for busybox-static here
        return False
    order: Literal["little", "big"] = "little" if data[5] == 1 else "big"
    phoff = int.from_bytes(data[0x20:0x28], order)
    phentsize = int.from_bytes(data[0x36:0x38], order)
    phnum = int.from_bytes(data[0x38:0x3A], order)
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off : off + 4], order) == 3:  # PT_INTERP
            return False
    return True


def write_busybox_rootfs(
    tar_path: Path, busybox: str, applets: Sequence[str], files: Mapping[str, bytes]
) -> None:
    """A rootfs tarball: /bin/busybox, /bin/<applet> -> busybox, and `files` (path -> bytes)."""

    def add_dir(tar: tarfile.TarFile, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(info)

    with tarfile.open(tar_path, "w") as tar:
        dirs = {"bin", "dev", "etc", "proc", "sys", "tmp"}
        dirs |= {str(Path(p.lstrip("/")).parent) for p in files} - {"."}
        for d in sorted(dirs):
            add_dir(tar, d)
        with open(busybox, "rb") as f:
            info = tar.gettarinfo(arcname="bin/busybox", fileobj=f)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755
            tar.addfile(info, f)
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        for name, content in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))


# -------------------------------------------------------------------------------------- dockerd


def _pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class DockerHost:
    """One private dockerd (+ its containerd) on its own bridge; see the module docstring."""

    dockerd_bin: str
    docker_bin: str
    proxy: str = field(default_factory=pyproxy_path)
    proxy_mode: str = "auto"  # PYPROXY_MODE for dockerd's proxies (auto = shared under dockerd)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ppdk-", dir="/tmp")))
    cgroup_parent: str = field(default_factory=lambda: f"pyplumb-dockerd-{os.getpid()}")
    before: HostState | None = None
    proc: subprocess.Popen[bytes] | None = None
    bridge_created: bool = False
    seen: dict[int, Proc] = field(default_factory=dict, repr=False)
    problems: list[str] | None = field(default=None, repr=False)
    saved_log: str | None = field(default=None, repr=False)

    @property
    def sock(self) -> Path:
        return self.root / "docker.sock"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = search_path()
        env["DOCKER_CONFIG"] = str(self.root / "cli")  # the CLI must not touch ~/.docker
        env["PYPROXY_HUB"] = self.hub_group  # dockerd's proxies get a shared-mode hub of ours
        env["PYPROXY_MODE"] = self.proxy_mode
        env.pop("DOCKER_HOST", None)
        env.pop("DOCKER_CONTEXT", None)
        return env

    def argv(self) -> list[str]:
        return [
            self.dockerd_bin,
            "--config-file", str(self.root / "daemon.json"),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", f"unix://{self.sock}",
            "--bridge", BRIDGE,
            "--storage-driver", "vfs",
            "--cgroup-parent", f"/{self.cgroup_parent}",
            "--iptables=true",
            "--ip-forward=true",
            "--userland-proxy=true",
            f"--userland-proxy-path={self.proxy}",
        ]  # fmt: skip

    # ------------------------------------------------------------------------------- start

    def start(self, timeout: float = 30.0) -> None:
        """Snapshot the host, create the bridge, start dockerd and wait until the API answers."""
        if BRIDGE in links():
            raise RuntimeError(
                f"{BRIDGE} already exists (left by an earlier run?): not touching it"
            )
        self.before = HostState.take()
        run(["ip", "link", "add", "name", BRIDGE, "type", "bridge"])
        self.bridge_created = True
        run(["ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])
        # Our own config file: no /etc/docker/daemon.json, and the trust key (which 20.10 writes
        # to /etc/docker/key.json by default; no command-line flag) inside our root.
        config = {"deprecated-key-path": str(self.root / "key.json")}
        (self.root / "daemon.json").write_text(json.dumps(config) + "\n")
        with open(self.root / "dockerd.log", "wb") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,  # a ^C to pytest must not race the finalizer
                preexec_fn=_pdeathsig,  # noqa: PLW1509 - pytest is single-threaded here
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}:\n{self.log_tail()}")
            done = subprocess.run(
                [self.docker_bin, "-H", f"unix://{self.sock}", "info", "--format", "{{.ID}}"],
                capture_output=True,
                env=self.env,
                timeout=10,
                check=False,
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)
        self.track()

    def log_tail(self, lines: int = 40) -> str:
        if self.saved_log is not None:  # the roots are gone; this is what the log ended with
            return "\n".join(self.saved_log.splitlines()[-lines:])
        try:
            text = (self.root / "dockerd.log").read_text(errors="replace")
        except FileNotFoundError:
            return "(no dockerd log)"
        return "\n".join(text.splitlines()[-lines:])

    def docker(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        return run(
            [self.docker_bin, "-H", f"unix://{self.sock}", *args],
            check=check,
            timeout=timeout,
            env=self.env,
        )

    def logs(self, cid: str) -> str:
        """A container's output, stdout and stderr (`docker logs` replays each on its own)."""
        done = subprocess.run(
            [self.docker_bin, "-H", f"unix://{self.sock}", "logs", cid],
            capture_output=True,
            text=True,
            timeout=30,
            env=self.env,
            check=True,
        )
        return done.stdout + done.stderr

    # --------------------------------------------------------------------------- processes

    def ours(self) -> list[Proc]:
        """dockerd, its descendants, and whatever names our roots (containerd shims re-parent
        to init) plus their descendants; also any pyproxy aimed at our subnet."""
        procs = all_procs()
        # dockerd's pid only while it is unreaped: once waited for, the pid may be reused.
        roots = {self.proc.pid} if self.proc is not None and self.proc.poll() is None else set()
        for p in procs:
            if any(str(self.root) in a for a in p.argv):
                roots.add(p.pid)
            args = proxy_args(p, self.proxy)
            if args and args.get("container-ip", "") and _in_subnet(args["container-ip"]):
                roots.add(p.pid)
        roots.update(hub_pids(self.hub_group))
        pids = descendants(roots, procs)
        return [p for p in procs if p.pid in pids and p.state not in "ZX"]

    def track(self) -> list[Proc]:
        """Remember every process of ours seen so far (by pid and start time)."""
        current = self.ours()
        for p in current:
            self.seen.setdefault(p.pid, p)
        return current

    def children(self) -> list[Proc]:
        assert self.proc is not None
        return [p for p in self.track() if p.ppid == self.proc.pid]

    @property
    def hub_group(self) -> str:
        return f"dockerd-test-{self.root.name}"

    def hubs(self) -> list[Proc]:
        """The shared-mode pyproxy hub serving this dockerd's ports (at most one)."""
        return [p for pid in hub_pids(self.hub_group) if (p := read_proc(pid)) is not None]

    def proxies(self) -> list[tuple[Proc, dict[str, str]]]:
        """dockerd's pyproxy children with their parsed flags."""
        found = []
        for p in self.children():
            args = proxy_args(p, self.proxy)
            if args is not None:
                found.append((p, args))
        return found

    # ---------------------------------------------------------------------------- teardown

    def teardown(self) -> list[str]:
        """Undo everything (idempotent); return what is still different from the snapshot."""
        if self.problems is not None:
            return self.problems
        problems: list[str] = []

        def step(what: str, fn: Callable[[], object]) -> None:
            try:
                result = fn()
            except Exception as e:
                problems.append(f"{what} failed: {e!r}")
            else:
                if isinstance(result, list):
                    problems.extend(f"{what}: {r}" for r in result)

        step("removing containers", self._remove_containers)
        step("stopping dockerd", self._stop_dockerd)
        step("stopping the pyproxy hub", self._stop_hub)
        step("killing leftovers", self._kill_leftovers)
        step("unmounting", self._unmount)
        step("deleting the bridge", self._delete_bridge)
        if self.before is not None:
            before = self.before
            step("restoring the firewall", lambda: restore_firewall(before))
            step("restoring sysctls", lambda: restore_sysctls(before.sysctls))
            step("removing created paths", lambda: self._remove_paths(before))
        step("removing cgroups", self._remove_cgroups)
        step("removing the roots", self._remove_root)
        step("checking processes", self._check_processes)
        if self.before is not None:
            # A container's netns (and so its host veth) is freed by the kernel asynchronously.
            deadline = time.monotonic() + 5
            while links() - self.before.links and time.monotonic() < deadline:
                time.sleep(0.05)
            problems += compare(self.before, HostState.take())
        self.problems = problems
        return problems

    def _remove_containers(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.track()
        ids = self.docker("ps", "-aq", timeout=30).split()
        if ids:
            self.docker("rm", "-f", *ids, timeout=60)

    def _stop_dockerd(self) -> list[str]:
        if self.proc is None:
            return []
        self.track()
        notes = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                notes.append("dockerd ignored SIGTERM for 30 s: killed")
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.returncode not in (0, -signal.SIGTERM):
            notes.append(f"dockerd exited {self.proc.returncode}:\n{self.log_tail(15)}")
        return notes

    def _stop_hub(self) -> None:
        # The hub lingers a few seconds after its last port by design; with dockerd gone it
        # has nothing left to serve.
        kill_and_reap(self.hubs(), signal.SIGTERM, 5)

    def _kill_leftovers(self) -> list[str]:
        deadline = time.monotonic() + 5  # give proxies/shims a moment to exit on their own
        while (leftovers := self._alive()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not leftovers:
            return []
        notes = [f"still running after dockerd stopped: {p}" for p in leftovers]
        left = kill_and_reap(leftovers, signal.SIGTERM, 5)
        left = kill_and_reap(left, signal.SIGKILL, 5)
        notes += [f"survived SIGKILL: {p}" for p in left]
        return notes

    def _unmount(self) -> list[str]:
        for point in sorted(mounts_under(self.root), key=lambda m: m.count("/"), reverse=True):
            run(["umount", "--lazy", point], check=False)
        return [f"still mounted: {m}" for m in mounts_under(self.root)]

    def _delete_bridge(self) -> None:
        if self.bridge_created and BRIDGE in links():
            run(["ip", "link", "del", BRIDGE])
        self.bridge_created = False

    def _remove_paths(self, before: HostState) -> list[str]:
        notes = []
        for path in WATCHED_PATHS:  # deepest first, by construction of WATCHED_PATHS
            if before.paths[path] or not os.path.lexists(path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                try:
                    os.rmdir(path)
                except OSError as e:
                    notes.append(f"created {path} but cannot remove it: {e}")
            else:
                notes.append(f"unexpected file {path} appeared: left alone")
        return notes

    def _remove_cgroups(self) -> None:
        for mount in cgroup_mounts():
            top = Path(mount, self.cgroup_parent)
            if not top.is_dir():
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
                os.rmdir(dirpath)

    def _remove_root(self) -> list[str]:
        if not self.root.exists():
            return []
        if left := mounts_under(self.root):
            return [f"not deleting {self.root}: still mounted: {left}"]
        self.saved_log = self.log_tail(200)
        shutil.rmtree(self.root)
        return []

    def _alive(self) -> list[Proc]:
        alive = [p for p in self.seen.values() if p.alive()]
        return alive + [p for p in self.ours() if p.pid not in self.seen]

    def _check_processes(self) -> list[str]:
        alive = self._alive()
        cgroups = [m for m in cgroup_mounts() if Path(m, self.cgroup_parent).exists()]
        return [f"left running: {p}" for p in alive] + [
            f"cgroup left: {m}/{self.cgroup_parent}" for m in cgroups
        ]


def _in_subnet(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in SUBNET
    except ValueError:
        return False
