"""A private dockerd 20.10 (and the containerd it spawns) for the pyengine-vs-docker scenarios.

dockerd runs in a private mount namespace with a tmpfs over /run (as the containerd peer does):
20.10 keeps its netns files under /var/run/docker/netns and containerd 1.6 its shim sockets under
/run/containerd/s whatever the flags say, so the host's /run/docker and /run/containerd are never
touched, and every mount dockerd makes vanishes with the namespace. It has its own --data-root,
--exec-root, --pidfile, socket, cgroup parent, config file and bridge (`pyb-dock0`,
10.246.0.1/24, created and deleted here), with --iptables=true and the real
/usr/sbin/docker-proxy as userland proxy. The firewall is put back by HostSnapshot.
"""

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bench.engine.hostsnap import PATH, sh
from bench.engine.procscan import Proc, all_procs, kill_pids, remove_cgroup_tree
from bench.engine.testbed import busybox_tar

BRIDGE = "pyb-dock0"
GATEWAY = "10.246.0.1/24"
SUBNET_PREFIX = "10.246.0."
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"
DOCKER_PROXY = "/usr/sbin/docker-proxy"


def run_docker(
    argv: list[str], env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The docker CLI as a peer runs it: output kept, RuntimeError naming it on failure."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv[3:8])[:80]}: {done.stderr.strip()}")
    return done


class DockerPeer:
    def __init__(self, base: Path) -> None:
        self.root = base / "d"
        self.root.mkdir(parents=True)
        self.sock = self.root / "docker.sock"
        self.cgroup_parent = f"pyb-docker-{os.getpid()}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.bridge = False
        self.env = dict(os.environ, PATH=PATH, DOCKER_CONFIG=str(self.root / "cli"))
        self.env.pop("DOCKER_HOST", None)
        self.env.pop("DOCKER_CONTEXT", None)

    def argv(self) -> list[str]:
        return [
            DOCKERD,
            "--config-file", str(self.root / "daemon.json"),
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", f"unix://{self.sock}",
            "--bridge", BRIDGE,
            "--cgroup-parent", f"/{self.cgroup_parent}",
            "--iptables=true",
            "--ip-forward=true",
            "--userland-proxy=true",
            f"--userland-proxy-path={DOCKER_PROXY}",
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> None:
        if Path(f"/sys/class/net/{BRIDGE}").exists():  # our name: a crashed run's leftover
            sh(["ip", "link", "del", BRIDGE])
        sh(["ip", "link", "add", "name", BRIDGE, "type", "bridge"])
        self.bridge = True
        sh(["ip", "addr", "add", GATEWAY, "dev", BRIDGE])
        sh(["ip", "link", "set", BRIDGE, "up"])
        (self.root / "daemon.json").write_text(
            json.dumps({"deprecated-key-path": str(self.root / "key.json")})
        )
        script = 'mount -t tmpfs pyb-drun /run && exec "$@"'
        with open(self.root / "dockerd.log", "wb") as log:
            self.proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    *self.argv(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while self.docker("info", "--format", "{{.ID}}", check=False).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        tar = self.root / "busybox.tar"
        busybox_tar(tar)
        self.docker("import", "--change", "ENV PATH=/bin", str(tar), "busybox:latest")

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "dockerd.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def docker_argv(self, *args: str) -> list[str]:
        return [DOCKER, "-H", f"unix://{self.sock}", *args]

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_docker(self.docker_argv(*args), self.env, check=check)

    # ------------------------------------------------------------------------ processes

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # unshare and sh exec into dockerd

    def daemons(self) -> dict[str, int]:
        """dockerd and its containerd (not counted per container)."""
        procs = all_procs()
        found = {"dockerd": self.pid}
        for p in procs:
            if p.ppid == self.pid and p.argv and p.argv[0].endswith("containerd"):
                found["containerd"] = p.pid
        return found

    def shims(self, procs: list[Proc] | None = None) -> list[int]:
        """containerd-shim-runc-v2 processes of our containerd (they re-parent to init)."""
        marker = str(self.root / "exec")
        return [
            p.pid
            for p in procs or all_procs()
            if p.argv
            and p.argv[0].endswith("containerd-shim-runc-v2")
            and any(marker in a for a in p.argv)
        ]

    def proxies(self, procs: list[Proc] | None = None) -> list[int]:
        return [
            p.pid
            for p in procs or all_procs()
            if p.ppid == self.pid and p.argv and p.argv[0] == DOCKER_PROXY
        ]

    def ours(self, p: Proc) -> bool:
        """Checked on the live argv, never on a remembered pid (pids are reused): whatever names
        our roots (containerd, shims), and docker-proxies aimed at our subnet."""
        root = str(self.root)
        if any(a == root or f"{root}/" in a for a in p.argv):
            return True
        return (
            bool(p.argv)
            and p.argv[0] == DOCKER_PROXY
            and any(a.startswith(SUBNET_PREFIX) for a in p.argv)
        )

    # ------------------------------------------------------------------------- teardown

    def stop(self) -> list[str]:
        notes: list[str] = []
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            procs = all_procs()
            self.shims(procs)
            self.proxies(procs)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                notes.append("dockerd ignored SIGTERM for 30 s: killed")
                self.proc.kill()
                self.proc.wait(10)
        left = [p for p in all_procs() if self.ours(p)]
        if left:
            notes += [f"killing leftover {p.pid}: {' '.join(p.argv)[:100]}" for p in left]
            kill_pids([p.pid for p in left])
        if self.bridge:
            sh(["ip", "link", "del", BRIDGE], check=False)
            self.bridge = False
        remove_cgroup_tree(self.cgroup_parent)
        return notes
