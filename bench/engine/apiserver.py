"""Issue-14 scenario `api`: the docker CLI against `pyengine system service` and against a
private dockerd 20.10, in one run, each server in turn per round.

- `run --rm busybox true` through each server (the CLI's create, attach, wait, start);
- `docker ps` with N running containers (made through that server);
- N parallel `docker run -d busybox sleep` then one `rm -f` of them all (wall time each);
- the idle server's memory: the pyengine service against dockerd + containerd.
"""

import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.engine.dockerpeer import DOCKER
from bench.engine.procscan import memory_sum
from bench.engine.progress import Progress

Server = tuple[Callable[..., list[str]], dict[str, str]]


def _servers(ctx: Any) -> dict[str, Server]:
    py, dk = ctx.engines()
    url = py.api()
    env = dict(py.env, DOCKER_CONFIG=str(ctx.base / "docker-cli"))
    servers: dict[str, Server] = {
        "pyengine API": (lambda *a: [DOCKER, "-H", url, *a], env),
    }
    if dk is not None:
        servers["dockerd"] = (dk.docker_argv, dk.env)
    pm = ctx.podman_peer()
    if pm is not None:
        servers["podman"] = (pm.docker_argv, pm.env)
    return servers


ENGINE_OF = {"pyengine API": "pyengine", "dockerd": "docker", "podman": "podman"}


def _timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    ms = (time.perf_counter() - t0) * 1000
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[3:8])}: {(done.stderr or done.stdout)[-400:]}")
    return ms


def api(ctx: Any, *, runs: int, containers_many: int, **_: Any) -> dict[str, Any]:
    servers = _servers(ctx)
    samples: dict[str, dict[str, list[float]]] = {s: {} for s in servers}
    errors: dict[str, str] = {}
    n = containers_many
    progress = Progress("api", len(servers) * (runs + 1 + 4))

    def add(server: str, key: str, value: float) -> None:
        samples[server].setdefault(key, []).append(value)

    for i in range(runs + 1):  # round 0 warms caches
        for name, (argv, env) in servers.items():
            try:
                ms = _timed(argv("run", "--rm", "busybox", "true"), env)
            except RuntimeError as e:
                errors[name] = str(e)
                continue
            if i:
                add(name, "run_ms", ms)
            progress.step(f"{name}: run --rm {ms:.0f} ms")
    for name, (argv, env) in servers.items():
        try:
            names = [f"pyb-api{i}" for i in range(n)]
            with ThreadPoolExecutor(8) as pool:
                t0 = time.perf_counter()
                list(
                    pool.map(
                        lambda c, a=argv, e=env: _timed(
                            a("run", "-d", "--name", c, "busybox", "sleep", "1000"), e
                        ),
                        names,
                    )
                )
                add(name, "parallel_run_d_ms", (time.perf_counter() - t0) * 1000)
            progress.step(f"{name}: {n} parallel run -d")
            for _round in range(runs):
                add(name, "ps_ms", _timed(argv("ps"), env))
            progress.step(f"{name}: ps with {n} containers")
            add(name, "rm_f_ms", _timed(argv("rm", "-f", *names), env))
            progress.step(f"{name}: rm -f of {n}")
        except RuntimeError as e:
            errors[name] = str(e)
            ctx.remove(ENGINE_OF[name], *names)
    for name, (argv, env) in servers.items():
        try:
            add(name, "logs_mb_s", _logs_rate(argv, env, lines=50_000 * max(1, n // 10)))
            progress.step(f"{name}: logs -f")
        except RuntimeError as e:
            errors[name] = str(e)
            ctx.remove(ENGINE_OF[name], "pyb-logs")
    py, dk = ctx.engines()
    idle = {"pyengine API": memory_sum([py.service.pid])} if py.service else {}
    if dk is not None:
        idle["dockerd"] = memory_sum(list(dk.daemons().values()))
    if ctx.podman is not None:
        idle["podman"] = memory_sum([ctx.podman.pid])
    out: dict[str, Any] = {
        "containers": n,
        "servers": {
            name: {key: statistics.median(v) for key, v in keys.items()}
            for name, keys in samples.items()
        },
        "idle_memory": idle,
    }
    if errors:
        out["errors"] = errors
    return out


LINE = "0123456789" * 4  # 41 bytes a line with its newline


def _logs_rate(argv: Callable[..., list[str]], env: dict[str, str], lines: int) -> float:
    """MB/s of `docker logs -f` reading a finished container's `lines` lines to the end."""
    _timed(argv("run", "-d", "--name", "pyb-logs", "busybox", "sh", "-c",
                f"yes {LINE} | head -n {lines}"), env)  # fmt: skip
    _timed(argv("wait", "pyb-logs"), env)
    t0 = time.perf_counter()
    done = subprocess.run(argv("logs", "-f", "pyb-logs"), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env, timeout=600, check=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    _timed(argv("rm", "-f", "pyb-logs"), env)
    if done.returncode or len(done.stdout) != lines * (len(LINE) + 1):
        raise RuntimeError(f"logs -f: exit {done.returncode}, {len(done.stdout)} bytes")
    return len(done.stdout) / seconds / 1e6


def api_section(res: dict[str, Any]) -> list[str]:
    servers = res.get("servers", {})
    ours, docker = servers.get("pyengine API", {}), servers.get("dockerd", {})
    podman = servers.get("podman", {})
    n = res.get("containers")
    rows = [
        ("`docker run --rm busybox true`", "run_ms", "ms"),
        (f"`docker ps` with {n} containers", "ps_ms", "ms"),
        (f"{n} parallel `docker run -d`", "parallel_run_d_ms", "ms"),
        (f"`docker rm -f` of {n}", "rm_f_ms", "ms"),
        ("`docker logs -f` of a finished container", "logs_mb_s", "MB/s"),
    ]
    lines = [
        "## Docker Engine API: the docker CLI against each server (medians)",
        "",
        "| measure | pyengine system service | dockerd 20.10 | podman system service 4.3 "
        "| vs dockerd | vs podman |",
        "|---|---|---|---|---|---|",
    ]
    for label, key, unit in rows:
        a, b, c = ours.get(key), docker.get(key), podman.get(key)
        note = " (rate)" if unit == "MB/s" else ""
        lines.append(f"| {label} | {_fmt(a, unit)} | {_fmt(b, unit)} | {_fmt(c, unit)} | "
                     f"{_ratio(a, b)}{note} | {_ratio(a, c)}{note} |")  # fmt: skip
    mem = res.get("idle_memory", {})
    a, b, c = (mem.get(k, {}).get("pss_mb") for k in ("pyengine API", "dockerd", "podman"))
    cells = [_fmt(a, "MB"), _fmt(b, "MB"), _fmt(c, "MB"), _ratio(a, b), _ratio(a, c)]
    lines.append("| idle server PSS (dockerd: + containerd) | " + " | ".join(cells) + " |")
    lines += ["", *(f"- **{k} failed**: `{v}`" for k, v in res.get("errors", {}).items()), ""]
    return lines


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"
