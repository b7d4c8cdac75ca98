"""Issue-6 scenarios: pyengine against a private dockerd 20.10 (and bare runc), in one run.

- `run`: `pyengine run --rm busybox true` vs `docker run --rm busybox true` vs `runc run`,
  interleaved round by round after a warm-up round; median and p90 per target.
- `ports`: `run -d -p P-Q:P-Q` (1001 ports by default) of a busybox container with an httpd
  on each port: command time, time to ready (command start until the last port accepted a
  connection on 127.0.0.1), memory of the engine-side processes, `rm -f` time; engines
  alternate round by round.
- `many`: N `sleep` containers with one published port each; memory of the shims and proxies.
"""

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.engine.netprobe import http_ok, sockets_on, wait_free, wait_ports, wait_ports_closed
from bench.engine.procscan import all_procs, memory_sum
from bench.engine.progress import Progress

PORT0 = 20000
MEDIAN_KEYS = ("run_ms", "ready_ms", "rm_ms", "pss_mb", "rss_mb", "processes", "shim_pss_mb",
               "shim_rss_mb", "proxy_pss_mb", "proxy_rss_mb")  # fmt: skip
PORT_SPAN = 1001  # the bench uses 20000-21000 only
BUSY = ("already allocated", "address already in use")
Engine = tuple[str, Callable[..., list[str]]]


def _stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered),
        "p90_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "runs": len(ordered),
        "samples_ms": [round(s, 2) for s in samples],
    }


def _timed(argv: list[str], env: dict[str, str] | None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    elapsed = (time.perf_counter() - t0) * 1000
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[:6])}... exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-600:]}")  # fmt: skip
    return elapsed


def run(ctx: Any, *, runs: int, **_: Any) -> dict[str, Any]:
    """`run --rm busybox true`, the engines and bare runc interleaved."""
    py, dk = ctx.engines()
    bundle = ctx.bundle("pyb-runc-rm", ("true",))
    runc_root = str(ctx.run_root / "runc-bare")
    targets: dict[str, Callable[[int], float]] = {
        "pyengine run --rm": lambda i: _timed(py.argv("run", "--rm", "busybox", "true"), py.env),
        "runc run": lambda i: _timed(
            [ctx.runc, "--root", runc_root, "run", "--bundle", str(bundle), f"pyb-rr{i}"], None
        ),
    }
    if dk is not None:
        targets["docker run --rm"] = lambda i: _timed(
            dk.docker_argv("run", "--rm", "busybox", "true"), dk.env
        )
    samples: dict[str, list[float]] = {name: [] for name in targets}
    errors: dict[str, str] = {}
    progress = Progress("run", (runs + 1) * len(targets))
    for i in range(runs + 1):
        for name, fn in targets.items():
            if name in errors:
                progress.step(f"{name}: skipped (failed before)")
                continue
            try:
                ms = fn(i)
            except Exception as e:
                errors[name] = str(e)
                progress.step(f"{name}: FAILED {e}")
                continue
            if i:  # round 0 warms caches
                samples[name].append(ms)
            progress.step(f"round {i}/{runs}{' (warm-up)' if not i else ''} {name}: {ms:.0f} ms")
    out: dict[str, Any] = {n: _stats(s) for n, s in samples.items() if s}
    if errors:
        out["errors"] = errors
    return out


def _engine_memory(ctx: Any, engine: str) -> dict[str, Any]:
    """Per-container figures (shims + proxies) and the once-per-host processes beside them."""
    py, dk = ctx.engines()
    if engine == "pyengine":
        shims, proxies = py.shims(), py.proxies()
        zygote = py.zygote()
        daemons = {"pyshim zygote": zygote} if zygote else {}
        if server := py.forkserver():
            daemons["pyengine fork server"] = server
        daemons.update((f"pyproxy hub {i + 1}" if i else "pyproxy hub", pid)
                       for i, pid in enumerate(py.hubs()))  # fmt: skip
    else:
        procs = all_procs()
        shims, proxies = dk.shims(procs), dk.proxies(procs)
        daemons = dk.daemons()
    per: dict[str, Any] = dict(memory_sum(shims + proxies))
    shim_mem, proxy_mem = memory_sum(shims), memory_sum(proxies)
    per.update(
        shims=len(shims),
        proxies=len(proxies),
        shim_pss_mb=shim_mem["pss_mb"],
        shim_rss_mb=shim_mem["rss_mb"],
        proxy_pss_mb=proxy_mem["pss_mb"],
        proxy_rss_mb=proxy_mem["rss_mb"],
    )
    per["once"] = {name: memory_sum([pid]) for name, pid in daemons.items()}
    return per


def ports(ctx: Any, *, port_rounds: int, port_count: int, **_: Any) -> dict[str, Any]:
    """`run -d` with `port_count` published ports; engines alternate round by round."""
    engines = ctx.engine_names()
    ctx.port_count = port_count
    last = PORT0 + port_count - 1
    spec = f"{PORT0}-{last}:{PORT0}-{last}" if port_count > 1 else f"{PORT0}:{PORT0}"
    # Every published port has a listener in the container: pyengine DNATs 127.0.0.1 straight
    # to the container (route_localnet), Docker relays it through docker-proxy, so only a real
    # listener makes "accepts a connection" mean the same for both.
    listeners = f"for p in $(seq {PORT0} {last}); do httpd -p $p; done; exec sleep 1000"
    rows: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    errors: dict[str, str] = {}
    progress = Progress("ports", port_rounds * len(engines))
    for r in range(port_rounds):
        for engine in engines if r % 2 == 0 else engines[::-1]:
            if engine in errors:
                progress.step(f"{engine}: skipped (failed before)")
                continue
            name = f"pyb-ports-{r}"
            args = ("run", "-d", "--name", name, "-p", spec, "busybox", "sh", "-c", listeners)
            try:
                row = _ports_round(ctx, engine, name, args, progress)
            except Exception as e:
                errors[engine] = str(e)
                ctx.remove(engine, name)
                progress.step(f"{engine}: FAILED {e}")
                continue
            rows[engine].append(row)
            progress.step(
                f"round {r + 1}/{port_rounds} {engine}: ready {row['ready_ms']:.0f} ms, "
                f"PSS {row['pss_mb']:.1f} MB in {row['processes']:.0f} processes, "
                f"rm -f {row['rm_ms']:.0f} ms"
            )
    out: dict[str, Any] = {"ports": port_count}
    for engine, got in rows.items():
        if got:
            out[engine] = {k: statistics.median(row[k] for row in got) for k in MEDIAN_KEYS}
            out[engine].update(
                rounds=len(got),
                http_ok=all(row["http_ok"] for row in got),
                once=got[-1]["once"],
                shims=got[-1]["shims"],
                proxies=got[-1]["proxies"],
                samples=[{k: v for k, v in row.items() if k != "once"} for row in got],
            )
    if errors:
        out["errors"] = errors
    return out


def _ports_round(
    ctx: Any, engine: str, name: str, args: tuple[str, ...], progress: Progress
) -> dict[str, Any]:
    """One round once the ports are free; again once if a foreign process took one meanwhile."""
    count = ctx.port_count
    for attempt in (1, 2):
        wait_free(PORT0, count, progress)
        try:
            return _one_ports_round(ctx, engine, name, args, count)
        except RuntimeError as e:
            if attempt == 2 or not any(m in str(e) for m in BUSY):
                raise
            print(f"[{progress.scenario}] a port was taken meanwhile, again: {e}", file=sys.stderr)
            ctx.remove(engine, name)
    raise AssertionError("unreachable")


def _one_ports_round(
    ctx: Any, engine: str, name: str, args: tuple[str, ...], count: int
) -> dict[str, Any]:
    argv, env = ctx.engine_cmd(engine, *args)
    t0 = time.perf_counter()
    run_ms = _timed(argv, env)
    t_ready, misses = wait_ports(PORT0, count)
    if misses:
        raise RuntimeError(f"{misses} of {count} ports never accepted a connection")
    row: dict[str, Any] = {"run_ms": run_ms, "ready_ms": (t_ready - t0) * 1000}
    row["http_ok"] = http_ok(PORT0)
    row.update(_engine_memory(ctx, engine))
    argv, env = ctx.engine_cmd(engine, "rm", "-f", name)
    row["rm_ms"] = _timed(argv, env)
    _, open_ports = wait_ports_closed(PORT0, count)
    if open_ports:
        raise RuntimeError(f"{open_ports} ports still accept connections after rm -f")
    return row


def _start_published(ctx: Any, engine: str, name: str) -> float:
    """`run -d -p PORT:80 busybox sleep 1000` on a free port of the range (another if a
    foreign process takes it meanwhile); the command's time in ms."""
    for attempt in (1, 2):
        busy = sockets_on(PORT0, PORT_SPAN, ("0A", "06"))  # TIME_WAIT: see wait_free
        port = next(p for p in range(PORT0, PORT0 + PORT_SPAN) if p not in busy)
        args = ("run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sleep", "1000")
        try:
            return _timed(*ctx.engine_cmd(engine, *args))
        except RuntimeError as e:
            if attempt == 2 or not any(m in str(e) for m in BUSY):
                raise
            ctx.remove(engine, name)
    raise AssertionError("unreachable")


def many(ctx: Any, *, containers_many: int, **_: Any) -> dict[str, Any]:
    """N `sleep 1000` containers with one published port each, per engine in turn."""
    engines = ctx.engine_names()
    out: dict[str, Any] = {"containers": containers_many}
    errors: dict[str, str] = {}
    progress = Progress("many", len(engines) * (containers_many + 2))
    for engine in engines:
        names = [f"pyb-many-{i}" for i in range(containers_many)]
        try:
            t0 = time.perf_counter()
            for i, name in enumerate(names):
                ms = _start_published(ctx, engine, name)
                progress.step(f"{engine}: container {i + 1}/{containers_many} up in {ms:.0f} ms")
            start_s = time.perf_counter() - t0
            time.sleep(1.0)  # let lazily started parts settle
            mem = _engine_memory(ctx, engine)
            progress.step(
                f"{engine}: PSS {mem['pss_mb']:.1f} MB in {mem['processes']:.0f} processes"
            )
            t0 = time.perf_counter()
            argv, env = ctx.engine_cmd(engine, "rm", "-f", *names)
            _timed(argv, env)
            rm_s = time.perf_counter() - t0
            progress.step(f"{engine}: rm -f of {containers_many} in {rm_s:.1f} s")
        except Exception as e:
            errors[engine] = str(e)
            ctx.remove(engine, *names)
            progress.step(f"{engine}: FAILED {e}")
            continue
        n = containers_many
        mem.update(
            start_s=start_s,
            rm_s=rm_s,
            pss_per_container_mb=mem["pss_mb"] / n,
            rss_per_container_mb=mem["rss_mb"] / n,
        )
        out[engine] = mem
    if errors:
        out["errors"] = errors
    return out
