"""External load tools run on the host: wrk (HTTP) and the iperf3 client (bulk TCP/UDP)."""

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.procs import child_env

WRK = "/usr/bin/wrk"
IPERF3 = "/usr/bin/iperf3"


class ToolError(RuntimeError):
    pass


def _run(argv: list[str], timeout: float) -> str:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=child_env(), check=False
        )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{argv[0]} timed out after {timeout:g}s") from e
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-500:]
        raise ToolError(f"{' '.join(argv)}: exit {proc.returncode}: {detail}")
    return proc.stdout


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    errors: int


def wrk(addr: tuple[str, int], seconds: float, connections: int, close: bool = False) -> WrkResult:
    """One wrk thread, `connections` connections; close=True sends `Connection: close`, so
    every request is a new TCP connection (connections/s)."""
    host, port = addr
    argv = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append(f"http://{host}:{port}/")
    out = _run(argv, timeout=seconds + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise ToolError(f"wrk output not understood: {out[-300:]}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    return WrkResult(float(rps.group(1)), int(total.group(1)), errors)


@dataclass(frozen=True)
class IperfResult:
    bits_per_second: float  # as received
    bytes: int  # received
    lost_percent: float


def iperf3(
    addr: tuple[str, int], seconds: float, udp: bool = False, datagram: int = 1400
) -> IperfResult:
    """One stream for `seconds`; UDP is sent unthrottled (-b 0) in `datagram`-byte datagrams."""
    host, port = addr
    argv = [IPERF3, "-c", host, "-p", str(port), "-t", f"{seconds:g}", "-J"]
    argv += ["--connect-timeout", "5000"]
    if udp:
        argv += ["-u", "-b", "0", "-l", str(datagram)]
    out = _run(argv, timeout=seconds + 30)
    data: dict[str, Any] = json.loads(out)
    if "error" in data:
        raise ToolError(f"iperf3: {data['error']}")
    end = data["end"]
    if udp:
        s = end["sum"]
        lost = float(s.get("lost_percent", 0.0))
        received_bytes = int(s["bytes"] * (1 - lost / 100))
        bps = float(s["bits_per_second"]) * (1 - lost / 100)
        return IperfResult(bps, received_bytes, lost)
    r = end["sum_received"]
    return IperfResult(float(r["bits_per_second"]), int(r["bytes"]), 0.0)
