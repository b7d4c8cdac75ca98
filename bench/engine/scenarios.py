"""The engine bench scenarios; each returns {target: {metric: value or [samples]}}."""

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.engine import apiserver, versus
from bench.engine.enginectx import Engines
from bench.engine.procscan import unmount_under
from bench.engine.testbed import (
    NAMESPACE,
    Containerd,
    make_bundle,
    make_rootfs,
    new_base,
    remove_cgroups,
    which,
)
from engine.shimapi.config import ShimConfig
from engine.shimapi.discovery import read_pid
from engine.tasks.client import ShimClient
from engine.tasks.spawn import create_task, remove_task

RUNC = which("runc") or "/usr/sbin/runc"


class Context(Engines):
    """Shared testbed: one rootfs, our roots, the containerd peer when available, and the two
    engines of the issue-6 scenarios (started on first use, see enginectx.py)."""

    def __init__(self, *, containerd: bool, docker: bool = True) -> None:
        self.want_containerd = containerd
        self.want_docker = docker
        self.runc = RUNC
        self.notes: list[str] = []
        self._init_engines()
        self.containerd: Containerd | None = None
        self.versions: dict[str, str] = {}
        self.base = Path()
        self.shims: list[ShimClient] = []

    def __enter__(self) -> "Context":
        self.base = new_base()
        self.rootfs = make_rootfs(self.base / "rootfs")
        self.run_root = self.base / "run"
        self.root = self.base / "root"
        self.versions["runc"] = _first_line([RUNC, "--version"])
        self.versions["python"] = sys.version.split()[0]
        if self.want_containerd and which("containerd") and which("containerd-shim-runc-v2"):
            self.containerd = Containerd(self.base)
            self.containerd.start()
            self.versions["containerd"] = _first_line(["containerd", "--version"])
        return self

    def __exit__(self, *_exc: object) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second ^C must not cut it
        try:
            self._cleanup()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _cleanup(self) -> None:
        self.stop_engines()
        zygote = read_pid(str(self.run_root / "zygote.pid"))
        if zygote:
            with contextlib.suppress(ProcessLookupError):
                os.kill(zygote, 9)
        for client in self.shims:
            with contextlib.suppress(Exception):
                client.kill("KILL")
                client.wait(timeout=10)
                remove_task(client)
        if self.containerd is not None:
            self.containerd.stop()
        for cid in os.listdir(self.run_root / "runc") if (self.run_root / "runc").is_dir() else []:
            subprocess.run(
                [RUNC, "--root", str(self.run_root / "runc"), "delete", "-f", cid],
                capture_output=True,
                check=False,
            )
        remove_cgroups(NAMESPACE)
        self.notes += unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)

    def bundle(self, cid: str, args: tuple[str, ...]) -> Path:
        return make_bundle(self.base / "bundles" / cid, self.rootfs, args)

    def shim_config(self, cid: str, args: tuple[str, ...]) -> ShimConfig:
        return ShimConfig(
            id=cid,
            bundle=str(self.bundle(cid, args)),
            run_root=str(self.run_root),
            root=str(self.root),
            runtime=RUNC,
        )


def _first_line(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "?"


def smaps(pid: int) -> dict[str, float]:
    """RSS and PSS in MB from /proc/<pid>/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Pss_Anon"):
                values[key.lower()] = int(rest.split()[0]) / 1024
    return values


def memory(ctx: Context, *, runs: int, containers: int, **_: Any) -> dict[str, Any]:
    """N `sleep` containers per target, then RSS/PSS of each shim (median over shims).

    pyshim is measured twice: forked by the zygote (the default) and exec'd (zygote=False).
    The zygote's own memory is reported beside them: it is paid once per engine, not per shim.
    """
    out: dict[str, Any] = {}
    out.update(_pyshim_memory(ctx, containers, zygote=False, label="pyshim without zygote"))
    out.update(_pyshim_memory(ctx, containers, zygote=True, label="pyshim"))
    zygote = read_pid(str(ctx.run_root / "zygote.pid"))
    if zygote:
        out["pyshim zygote (once)"] = _summarise([smaps(zygote)])
    if ctx.containerd is not None:
        for i in range(containers):
            ctx.containerd.ctr(
                "run",
                "-d",
                "--null-io",
                "--rootfs",
                str(ctx.rootfs),
                f"pyb-ctd-mem-{i}",
                "/bin/sleep",
                "1000",
            )
        time.sleep(0.5)
        out["containerd-shim-runc-v2"] = _summarise([smaps(p) for p in ctx.containerd.shim_pids()])
        for i in range(containers):
            ctx.containerd.ctr("tasks", "kill", "-s", "KILL", f"pyb-ctd-mem-{i}", check=False)
        time.sleep(0.3)
        for i in range(containers):
            ctx.containerd.ctr("tasks", "rm", "-f", f"pyb-ctd-mem-{i}", check=False)
            ctx.containerd.ctr("containers", "rm", f"pyb-ctd-mem-{i}", check=False)
    return out


def _pyshim_memory(ctx: Context, containers: int, *, zygote: bool, label: str) -> dict[str, Any]:
    pids = []
    tag = "z" if zygote else "x"
    for i in range(containers):
        client = create_task(
            ctx.shim_config(f"pyb-mem{tag}{i}", ("sleep", "1000")), start=True, zygote=zygote
        )
        ctx.shims.append(client)
        pids.append(read_pid(str(ctx.run_root / "shims" / f"pyb-mem{tag}{i}" / "shim.pid")))
    time.sleep(0.5)
    result = {label: _summarise([smaps(p) for p in pids])}
    for client in list(ctx.shims):
        client.kill("KILL")
        client.wait(timeout=10)
        remove_task(client)
        ctx.shims.remove(client)
    return result


def _summarise(samples: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "processes": len(samples),
        "rss_mb": statistics.median(s["rss"] for s in samples),
        "pss_mb": statistics.median(s["pss"] for s in samples),
        "pss_anon_mb": statistics.median(s.get("pss_anon", 0.0) for s in samples),
    }


def lifecycle(ctx: Context, *, runs: int, containers: int, **_: Any) -> dict[str, Any]:
    """create+start+exit+delete of `true`, targets interleaved round by round."""
    bundle = ctx.bundle("pyb-runc", ("true",))
    runc_root = str(ctx.run_root / "runc-bare")

    def bare_runc(i: int) -> None:
        subprocess.run(
            [RUNC, "--root", runc_root, "run", "--bundle", str(bundle), f"pyb-r{i}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
        )

    def pyshim(i: int) -> None:
        client = create_task(ctx.shim_config(f"pyb-s{i}", ("true",)))
        client.start()
        client.wait()
        remove_task(client)

    def pyshim_run(i: int) -> None:
        client = create_task(ctx.shim_config(f"pyb-sr{i}", ("true",)), start=True)
        client.wait()
        remove_task(client)

    def pyshim_exec(i: int) -> None:
        client = create_task(ctx.shim_config(f"pyb-se{i}", ("true",)), zygote=False)
        client.start()
        client.wait()
        remove_task(client)

    targets: dict[str, Callable[[int], None]] = {
        "runc run": bare_runc,
        "pyshim create, start": pyshim,
        "pyshim create+start (run -d)": pyshim_run,
        "pyshim without zygote": pyshim_exec,
    }
    if ctx.containerd is not None:
        ctd = ctx.containerd

        def containerd_ctr(i: int) -> None:
            ctd.ctr(
                "run", "--rm", "--null-io", "--rootfs", str(ctx.rootfs), f"pyb-c{i}", "/bin/true"
            )

        targets["containerd (ctr run --rm)"] = containerd_ctr
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(runs + 1):
        for name, fn in targets.items():
            t0 = time.perf_counter()
            fn(i)
            if i:  # round 0 warms caches
                samples[name].append((time.perf_counter() - t0) * 1000)
    return {
        name: {"median_ms": statistics.median(v), "p90_ms": _p90(v), "runs": len(v)}
        for name, v in samples.items()
    }


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "memory": memory,
    "lifecycle": lifecycle,
    "run": versus.run,
    "ports": versus.ports,
    "many": versus.many,
    "api": apiserver.api,
}
