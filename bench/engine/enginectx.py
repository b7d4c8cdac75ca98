"""The two engines of the issue-6 scenarios, started on first use and always undone.

The host snapshot (firewall, sysctls, paths) is taken before either engine starts and restored
after both stopped; see hostsnap.py. Another dockerd's chains in the firewall mean a concurrent
Docker user: ours would share (and its cleanup clobber) them, so the harness waits for them to go.
"""

import subprocess
import sys
import time
from pathlib import Path

from bench.engine.dockerpeer import DOCKER, DOCKERD, DockerPeer
from bench.engine.hostsnap import HostSnapshot, sh
from bench.engine.podmanpeer import PODMAN, PodmanPeer
from bench.engine.pyeng import TABLES, PyEngine


class Engines:
    """Mixed into Context: `engines()` starts pyengine and (unless disabled) the docker peer."""

    base: Path
    versions: dict[str, str]
    want_docker: bool
    notes: list[str]

    def _init_engines(self) -> None:
        self.pyengine: PyEngine | None = None
        self.docker: DockerPeer | None = None
        self.snapshot: HostSnapshot | None = None
        self.docker_error = ""
        self.podman: PodmanPeer | None = None
        self.podman_error = ""

    def engines(self) -> tuple[PyEngine, DockerPeer | None]:
        if self.pyengine is None:
            self.snapshot = HostSnapshot.take()
            self.pyengine = PyEngine(self.base)
            print("starting pyengine (isolated root, pyb-eng0, table pyb_engine)", file=sys.stderr)
            self.pyengine.start()
            if self.want_docker:
                self._start_docker()
        return self.pyengine, self.docker

    def _start_docker(self) -> None:
        if not (Path(DOCKERD).exists() and Path(DOCKER).exists()):
            self.docker_error = f"{DOCKERD} or {DOCKER} missing (apt: docker.io)"
            return
        assert self.snapshot is not None
        deadline = time.monotonic() + 120
        while self.snapshot.docker_chains():
            if time.monotonic() > deadline:
                self.docker_error = "another dockerd keeps DOCKER chains in the firewall"
                return
            print("waiting for another dockerd's firewall chains to go", file=sys.stderr)
            time.sleep(5)
            self.snapshot = HostSnapshot.take()
        print("starting a private dockerd (pyb-dock0, 10.246.0.0/24)", file=sys.stderr)
        self.docker = DockerPeer(self.base)
        self.docker.start()
        out = sh([DOCKER, "--version"], check=False).strip()
        self.versions["docker"] = out.removeprefix("Docker version ")

    def podman_peer(self) -> PodmanPeer | None:
        """A private `podman system service`, started on first use (the API scenario)."""
        if self.podman is None and not self.podman_error:
            self.engines()  # the host snapshot first
            if not Path(PODMAN).exists():
                self.podman_error = f"{PODMAN} missing (apt: podman)"
                return None
            print("starting a private podman system service (pyb-pod0, 10.247.0.0/24)",
                  file=sys.stderr)  # fmt: skip
            peer = PodmanPeer(self.base)
            try:
                peer.start()
            except RuntimeError as e:
                self.notes += peer.stop()
                self.podman_error = str(e)
                return None
            self.podman = peer
            self.versions["podman"] = sh([PODMAN, "--version"], check=False).strip()
        return self.podman

    def engine_names(self) -> list[str]:
        _py, dk = self.engines()
        return ["pyengine"] + (["docker"] if dk is not None else [])

    def engine_cmd(self, engine: str, *args: str) -> tuple[list[str], dict[str, str]]:
        py, dk = self.engines()
        if engine == "pyengine":
            return py.argv(*args), py.env
        if engine == "podman":
            assert self.podman is not None
            return self.podman.docker_argv(*args), self.podman.env
        assert dk is not None
        return dk.docker_argv(*args), dk.env

    def remove(self, engine: str, *names: str) -> None:
        """Best effort `rm -f` after a failure, so the next round starts clean."""
        argv, env = self.engine_cmd(engine, "rm", "-f", *names)
        subprocess.run(argv, capture_output=True, env=env, timeout=600, check=False)

    def stop_engines(self) -> None:
        peers = (("pyengine", self.pyengine), ("docker", self.docker), ("podman", self.podman))
        for name, peer in peers:
            if peer is None:
                continue
            try:
                self.notes += [f"{name} cleanup: {n}" for n in peer.stop()]
            except Exception as e:
                self.notes.append(f"{name} cleanup failed: {e!r}")
        if self.snapshot is not None:
            try:
                self.notes += self.snapshot.restore(ours=TABLES)
            except Exception as e:
                self.notes.append(f"restoring the firewall failed: {e!r}")
        self.pyengine = self.docker = None
        self.podman = None
        self.snapshot = None
