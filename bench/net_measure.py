"""The measurements of `python -m bench network`, each run inside the bench's host namespace.

The harness setns()es its main thread into a scratch `pyb…h` namespace first (the spec's
method), so the reference plugins it execs and our in-process Driver both work on that
namespace's bridges and tables; each endpoint gets a fresh `pyb…c<i>` namespace.
"""

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netns
from bridge import Driver, endpoint_request, network_config, port_mapping

CNI_DIR = "/usr/lib/cni"


@dataclass
class Samples:
    """Milliseconds per operation, by metric, for one target."""

    values: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, ms: float) -> None:
        self.values.setdefault(key, []).append(ms)


def _ms(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


def cni_conf(plugin: str, tmp: Path, third: int, name: str) -> dict[str, Any]:
    """The spec's anchor configuration (section 5), for the reference plugin and for ours."""
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "type": plugin,
        "bridge": f"pybbr{third}",
        "isGateway": True,
        "isDefaultGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": f"10.243.{third}.0/24"}]],
            "dataDir": str(tmp / f"leases-{name}"),
        },
        "dataDir": str(tmp / f"state-{name}"),
        "nftTable": f"pyb_{name}",
        "vethPrefix": "pyb",
    }


def run_cni(
    exe: str,
    command: str,
    conf: dict[str, Any],
    cid: str,
    ns: str,
    *,
    extra_env: dict[str, str] | None = None,
) -> None:
    env = {
        **(extra_env or {}),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": f"/run/netns/{ns}",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": CNI_DIR,
    }
    done = subprocess.run(
        [exe],
        input=json.dumps(conf).encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{exe} {command} {cid}: {done.stdout.decode()[:300]}")


def cni_cycle(
    exe: str,
    conf: dict[str, Any],
    spaces: list[str],
    out: Samples,
    extra_env: dict[str, str] | None = None,
) -> None:
    """ADD every endpoint one after another, then DEL every one: per-call times; then as many
    VERSION calls (no work: the plugin's start-up alone)."""
    for i, ns in enumerate(spaces):
        t = time.perf_counter_ns()
        run_cni(exe, "ADD", conf, f"bench{i}", ns, extra_env=extra_env)
        out.add("add_ms", _ms(t))
    for i, ns in enumerate(spaces):
        t = time.perf_counter_ns()
        run_cni(exe, "DEL", conf, f"bench{i}", ns, extra_env=extra_env)
        out.add("del_ms", _ms(t))
    for ns in spaces:
        t = time.perf_counter_ns()
        run_cni(exe, "VERSION", conf, "", ns, extra_env=extra_env)
        out.add("version_ms", _ms(t))


def warm_server(exe: str, conf: dict[str, Any], run_root: Path, ns: str) -> int:
    """Start the warm process `exe` hands its calls to (a first call in its own process starts
    it, where the run root exists) and wait until it answers; its pid."""
    run_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_cni(exe, "VERSION", conf, "", ns, extra_env={"PYENGINE_RUN": str(run_root)})
    pid_file, fifo = run_root / "cli.pid", run_root / "cli.fifo"
    deadline = time.monotonic() + 30
    while not (fifo.exists() and pid_file.exists() and pid_file.read_text().strip()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no warm process answered in {run_root}")
        time.sleep(0.05)
    # its preloading is done once it serves a call
    run_cni(exe, "VERSION", conf, "", ns, extra_env={"PYENGINE_RUN": str(run_root)})
    return int(pid_file.read_text())


def stop_server(pid: int) -> None:
    """SIGTERM the warm process this run started, and wait for it to go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)


def library_cycle(driver: Driver, network: str, spaces: list[str], out: Samples) -> None:
    for i, ns in enumerate(spaces):
        t = time.perf_counter_ns()
        driver.add_endpoint(network, endpoint_request(f"bench{i}", ns))
        out.add("add_ms", _ms(t))
    for i, _ns in enumerate(spaces):
        t = time.perf_counter_ns()
        driver.remove_endpoint(network, f"bench{i}")
        out.add("del_ms", _ms(t))


def library_teardown(driver: Driver, network: str, spaces: list[str], out: Samples) -> None:
    """N endpoints torn down one by one, then N torn down at once (one batch)."""
    for batched in (False, True):
        for i, ns in enumerate(spaces):
            driver.add_endpoint(network, endpoint_request(f"td{i}", ns))
        t = time.perf_counter_ns()
        if batched:
            driver.remove_endpoints(driver.endpoints(network))
        else:
            for i in range(len(spaces)):
                driver.remove_endpoint(network, f"td{i}")
        out.add("teardown_batch_ms" if batched else "teardown_serial_ms", _ms(t))


def nft_rule_count(table: str, family: str = "inet") -> int:
    done = subprocess.run(
        ["nft", "-j", "list", "table", family, table], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return 0
    return sum(1 for o in json.loads(done.stdout)["nftables"] if "rule" in o)


def library_ports(driver: Driver, network: str, ns: str, count: int, out: Samples) -> None:
    table = driver.host.render.name
    driver.add_endpoint(network, endpoint_request("ports", ns, ports=[port_mapping(30000, 80)]))
    rules_one = nft_rule_count(table)
    ports = [port_mapping(31000 + i, 80, "tcp") for i in range(count)]
    t = time.perf_counter_ns()
    driver.publish(network, "ports", "eth0", ports)
    out.add("publish_ms", _ms(t))
    out.add("rules_1_port", float(rules_one))
    out.add(f"rules_{count + 1}_ports", float(nft_rule_count(table)))
    t = time.perf_counter_ns()
    driver.unpublish(network, "ports", "eth0", ports)
    out.add("unpublish_ms", _ms(t))
    driver.remove_endpoint(network, "ports")


def portmap_ports(tmp: Path, ns: str, count: int, out: Samples) -> None:
    """The reference chain: bridge, then portmap with `count` portMappings (iptables-nft)."""
    conf = cni_conf("bridge", tmp, 9, "pybportmap")
    run_cni(f"{CNI_DIR}/bridge", "ADD", conf, "pm", ns)
    addr = "10.243.9.2/24"
    pm = {
        "cniVersion": "1.0.0",
        "name": "pybportmap",
        "type": "portmap",
        "capabilities": {"portMappings": True},
        "snat": True,
        "runtimeConfig": {
            "portMappings": [
                {"hostPort": 31000 + i, "containerPort": 80, "protocol": "tcp"}
                for i in range(count)
            ]
        },
        "prevResult": {
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "pybbr9"},
                {"name": "x"},
                {"name": "eth0", "sandbox": f"/run/netns/{ns}"},
            ],
            "ips": [{"address": addr, "gateway": "10.243.9.1", "interface": 2}],
        },
    }
    t = time.perf_counter_ns()
    run_cni(f"{CNI_DIR}/portmap", "ADD", pm, "pm", ns)
    out.add("publish_ms", _ms(t))
    save = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    out.add(
        f"rules_{count}_ports",
        float(sum(1 for line in save.splitlines() if line.startswith("-A CNI-"))),
    )
    t = time.perf_counter_ns()
    run_cni(f"{CNI_DIR}/portmap", "DEL", pm, "pm", ns)
    out.add("unpublish_ms", _ms(t))
    run_cni(f"{CNI_DIR}/bridge", "DEL", conf, "pm", ns)


def in_namespace(host: str, fn: Callable[[], None]) -> None:
    """Run `fn` with this (main) thread inside `host`, then come back: the bench process has
    no other thread, so nothing else can observe the switch (the library never does this)."""
    from netns import libc  # the one deliberate setns of the caller's thread

    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with netns.opened(host) as fd:
            libc.setns(fd, libc.CLONE_NEWNET)
        try:
            fn()
        finally:
            libc.setns(here, libc.CLONE_NEWNET)
    finally:
        os.close(here)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="pyb-net-"))


def make_network(driver: Driver, third: int, name: str) -> None:
    driver.create_network(
        network_config(
            name, f"10.243.{third}.0/24", bridge=f"pybbr{third}", veth_prefix="pyb", hairpin=True
        )
    )
