"""A private `podman system service` (Podman 4.3, Debian's) for the API scenario: the docker
CLI against it beside dockerd and pyengine's API server.

It runs in a private mount namespace with a tmpfs over /run (as the dockerd peer does), with
its own storage root, run root, temporary directory and CNI configuration: one network,
`podman`, a bridge `pyb-pod0` on 10.247.0.0/24 with host-local leases in our root, and no
plugin that touches the host's firewall. Containers get `--ulimit nofile=1024:1024 --ulimit
nproc=1024:1024`: Podman's defaults are the host's hard limits, which its CNI runtime refuses
on this machine. Its busybox is the same rootfs tarball the dockerd peer imports.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bench.engine.dockerpeer import DOCKER, run_docker
from bench.engine.hostsnap import sh
from bench.engine.testbed import busybox_tar
from bench.procfs import alive

PODMAN = "/usr/bin/podman"
BRIDGE = "pyb-pod0"
SUBNET = "10.247.0.0/24"
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


class PodmanPeer:
    def __init__(self, base: Path) -> None:
        self.root = base / "p"
        self.root.mkdir(parents=True)
        self.sock = self.root / "podman.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ, DOCKER_CONFIG=str(self.root / "cli"))
        self.env.pop("DOCKER_HOST", None)
        self.env.pop("DOCKER_CONTEXT", None)

    def podman_argv(self, *args: str) -> list[str]:
        return [
            PODMAN,
            "--root", str(self.root / "storage"),
            "--runroot", str(self.root / "run"),
            "--tmpdir", str(self.root / "tmp"),
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--network-backend", "cni",
            "--cni-config-dir", str(self.root / "cni"),
            *args,
        ]  # fmt: skip

    def _network(self) -> None:
        (self.root / "cni").mkdir()
        conf = {
            "cniVersion": "0.4.0",
            "name": "podman",
            "plugins": [
                {
                    "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
                             "ranges": [[{"subnet": SUBNET}]],
                             "dataDir": str(self.root / "cni-leases")},
                },
            ],
        }  # fmt: skip
        (self.root / "cni" / "87-podman.conflist").write_text(json.dumps(conf))

    def start(self, timeout: float = 60) -> None:
        if Path(f"/sys/class/net/{BRIDGE}").exists():  # our name: a crashed run's leftover
            sh(["ip", "link", "del", BRIDGE])
        self._network()
        tar = self.root / "busybox.tar"
        busybox_tar(tar)
        script = 'mount -t tmpfs pyb-prun /run && exec "$@"'
        argv = self.podman_argv("system", "service", "--time=0", f"unix://{self.sock}")
        with open(self.root / "podman.log", "wb") as log:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                 *argv],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while self.docker("version", "--format", "{{.Server.Version}}", check=False).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman system service did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        self.docker("import", "--change", "ENV PATH=/bin", str(tar), "busybox:latest")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.root / "podman.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def docker_argv(self, *args: str) -> list[str]:
        """The docker CLI aimed at the service; `run`/`create` get the ulimits Podman needs
        here (see the module's note)."""
        if args and args[0] in ("run", "create"):
            args = (args[0], *ULIMITS, *args[1:])
        return [DOCKER, "-H", f"unix://{self.sock}", *args]

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_docker(self.docker_argv(*args), self.env, check=check)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # unshare and sh exec into podman

    def stop(self) -> list[str]:
        notes: list[str] = []
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                notes.append("podman ignored SIGTERM for 30 s: killed")
                self.proc.kill()
                self.proc.wait(10)
        left = [int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and self._ours(e.name)]
        for pid in left:
            notes.append(f"killing leftover {pid}")
            os.kill(pid, signal.SIGKILL)
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            sh(["ip", "link", "del", BRIDGE], check=False)
        return notes

    def _ours(self, pid: str) -> bool:
        try:
            line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return str(self.root).encode() in line and alive(int(pid))
