"""The test bed: a network namespace behind a bridge, as a container sits behind docker0.

    host: pybench-br0 10.231.77.1/24 -- pybench-veth0 ==veth== eth0 10.231.77.2/24 :pybench-ns

Backends run inside the namespace (`ip netns exec`); proxies run on the host. Everything is named
`pybench-` and torn down on exit; `clean_leftovers` removes what a crashed run left behind.
"""

import fcntl
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bench import procs

PREFIX = "pybench-"
NETNS = "pybench-ns"
BRIDGE = "pybench-br0"
VETH_HOST = "pybench-veth0"
VETH_NS = "pybench-veth1"
SUBNET = "10.231.77.0/24"
HOST_IP = "10.231.77.1"
NS_IP = "10.231.77.2"
LOCK_PATH = "/run/pybench.lock"
IP = shutil.which("ip") or "/usr/bin/ip"


class TestbedError(RuntimeError):
    pass


def ip(*args: str, check: bool = True) -> str:
    proc = subprocess.run([IP, *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise TestbedError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def our_netns() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.startswith(PREFIX)]


def our_links() -> list[str]:
    names = []
    for line in ip("-o", "link", "show").splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            names.append(name)
    return names


def netns_pids(name: str) -> list[int]:
    return [int(p) for p in ip("netns", "pids", name, check=False).split()]


def leftovers() -> dict[str, list[str]]:
    """What of ours exists right now: namespaces, links and marked processes."""
    return {
        "netns": our_netns(),
        "links": our_links(),
        "processes": [str(p) for p in procs.marked_pids()],
    }


def clean_leftovers() -> list[str]:
    """Remove every pybench- namespace, link, marked process and temporary directory; return
    what was removed (the run lock guarantees none of it belongs to a live run)."""
    removed = []
    for ns in our_netns():
        pids = netns_pids(ns)
        procs.kill_pids(pids)
        ip("netns", "del", ns, check=False)
        removed.append(f"netns {ns} ({len(pids)} processes)")
    marked = procs.marked_pids()
    if marked:
        procs.kill_pids(marked)
        removed.append(f"{len(marked)} marked processes")
    for link in our_links():
        ip("link", "del", link, check=False)
        removed.append(f"link {link}")
    for workdir in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        shutil.rmtree(workdir, ignore_errors=True)  # a crashed run's configs (session.py)
        removed.append(f"directory {workdir}")
    return removed


def _build() -> None:
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{HOST_IP}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    ip("netns", "add", NETNS)
    ip("link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS)
    ip("link", "set", VETH_HOST, "master", BRIDGE, "up")
    ip("link", "set", VETH_NS, "netns", NETNS)
    ip("-n", NETNS, "link", "set", "lo", "up")
    ip("-n", NETNS, "link", "set", VETH_NS, "name", "eth0")
    ip("-n", NETNS, "addr", "add", f"{NS_IP}/24", "dev", "eth0")
    ip("-n", NETNS, "link", "set", "eth0", "up")
    ip("-n", NETNS, "route", "add", "default", "via", HOST_IP)


@dataclass(frozen=True)
class Testbed:
    netns: str = NETNS
    host_ip: str = HOST_IP
    ns_ip: str = NS_IP

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """argv run inside the namespace (ip execs it: same pid, fds and environment)."""
        return [IP, "netns", "exec", self.netns, *argv]


def teardown() -> None:
    """Stop our children, then everything in the namespace, then the namespace and links."""
    procs.stop_everything()
    procs.kill_pids(procs.marked_pids())  # what our children left detached (pyproxy's hub)
    for ns in our_netns():
        procs.kill_pids(netns_pids(ns))
        ip("netns", "del", ns, check=False)
    for link in our_links():
        ip("link", "del", link, check=False)


@contextmanager
def run_lock() -> Iterator[None]:
    """One harness at a time: a second run would tear down the first one's test bed."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TestbedError(f"another bench run holds {LOCK_PATH}") from None
        yield
    finally:
        os.close(fd)


@contextmanager
def testbed() -> Iterator[Testbed]:
    """Clean leftovers, build the bed, yield it, and always tear it down."""
    with run_lock():
        for what in clean_leftovers():
            print(f"testbed: removed leftover {what}", file=sys.stderr)
        try:
            _build()
            yield Testbed()
        finally:
            teardown()
