"""A sandbox for shim tests: short temp run/root dirs, bundles, and cleanup that leaves nothing.

Cleanup, even after a failed test: SIGKILL every shim started here (by the pid it wrote), force-
delete every container under our runc --root, remove pyt- cgroups and the directories.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from engine.shimapi.config import ShimConfig
from engine.shimapi.discovery import list_ids, pid_alive, read_pid
from engine.shimapi.paths import Layout
from engine.tasks.client import ShimClient
from engine.tasks.spawn import create_task
from tests.support.bundle import cgroup_dirs, make_bundle

RUNC = "/usr/sbin/runc"


class Sandbox:
    """Roots under /tmp/pytXXXX (short: unix socket paths are limited to 107 bytes)."""

    def __init__(self, runtime: str = RUNC) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pyt", dir="/tmp"))
        self.run_root = self.base / "run"
        self.root = self.base / "root"
        self.runtime = runtime
        self.shim_pids: set[int] = set()
        self.clients: list[ShimClient] = []

    def bundle(self, cid: str, args: tuple[str, ...] = ("true",), **spec: object) -> Path:
        path = self.base / "bundles" / cid
        shutil.rmtree(path, ignore_errors=True)
        return make_bundle(path, args, **spec)

    def config(self, cid: str, bundle: Path | None = None, **kw: object) -> ShimConfig:
        kw.setdefault("runtime", self.runtime)
        return ShimConfig(
            id=cid,
            bundle=str(bundle or self.base / "bundles" / cid),
            run_root=str(self.run_root),
            root=str(self.root),
            **kw,  # type: ignore[arg-type]
        )

    def layout(self, cid: str) -> Layout:
        return Layout(str(self.run_root), str(self.root), cid)

    def create(
        self,
        cid: str,
        args: tuple[str, ...] = ("true",),
        *,
        stdin: bool = False,
        start: bool = False,
        zygote: bool = True,
        config: dict[str, object] | None = None,
        **spec: object,
    ) -> ShimClient:
        bundle = self.bundle(cid, args, **spec)
        client = create_task(
            self.config(cid, bundle, **(config or {})), stdin=stdin, start=start, zygote=zygote
        )
        self.track(client)
        return client

    def track(self, client: ShimClient) -> ShimClient:
        self.clients.append(client)
        pid = read_pid(self.layout(client.id).state("shim.pid"))
        if pid:
            self.shim_pids.add(pid)
        return client

    def shim_pid(self, cid: str) -> int:
        return read_pid(self.layout(cid).state("shim.pid"))

    def runc_ids(self) -> list[str]:
        root = self.run_root / "runc"
        return sorted(os.listdir(root)) if root.is_dir() else []

    def cleanup(self) -> None:
        for client in self.clients:
            client.close()
        for cid in list_ids(str(self.run_root)):
            pid = read_pid(self.layout(cid).state("shim.pid"))
            if pid:
                self.shim_pids.add(pid)
        # the zygote, and the fork server a `python -m engine` command may have started
        for resident in ("zygote.pid", "cli.pid"):
            if pid := read_pid(str(self.run_root / resident)):
                self.shim_pids.add(pid)
        for pid in self.shim_pids:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for cid in self.runc_ids():
            subprocess.run(
                [self.runtime, "--root", str(self.run_root / "runc"), "delete", "--force", cid],
                capture_output=True,
                check=False,
            )
        for d in sorted(cgroup_dirs("pyt-"), key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def sandbox(runtime: str = RUNC) -> Iterator[Sandbox]:
    box = Sandbox(runtime)
    try:
        yield box
    finally:
        box.cleanup()


def wait_for(predicate: object, timeout: float = 5.0) -> bool:
    """Poll a condition (not a timing assertion: the timeout only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return bool(predicate())  # type: ignore[operator]
