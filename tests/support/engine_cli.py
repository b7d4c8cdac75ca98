"""`pyengine` as a subprocess in an isolated environment, and a teardown that leaves nothing.

Each `EngineEnv` claims a free number `n` (an abstract unix socket, so concurrent runs of the
suite never share one) and lives in its own:

- state root `<base>/root` and run root `<base>/run`, `<base>` a short /tmp/pytXXXX directory
  (unix socket paths are limited to 107 bytes);
- default network: bridge `pyt-e<n>`, subnet 10.245.<n>.0/25, nftables tables `pyt_e<n>`;
- spare addresses for the test itself: 10.245.<n>.128/26 for a user network (`user_subnet`,
  bridge `pyt-u<n>`) and 10.245.<n>.248/30 for a client namespace `pyt-c<n>` (`client_ns`).

Teardown has two halves. First the engine cleans up after itself (`rm -f` of every container),
and what it should have removed is checked (`engine_leaks`): records, leases, endpoints, roots,
shims, runc state, netns, veths, nft elements, cgroups, mounts, processes. Then everything is
removed by force whatever happened, and the host is compared with the snapshot taken before
(`host_leaks`), restricted to what this environment could have made, since other suites may be
running on the same host at the same time.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netns
from bridge import Driver
from bridge.host import host_veth_name
from tests.conftest import require_binary, require_root
from tests.support.hoststate import links, mounts_under, search_path
from tests.support.procs import Proc, listening_inodes, read_proc

VENV_BIN = Path(sys.executable).parent
PYENGINE = str(VENV_BIN / "pyengine")
PYPROXY = str(VENV_BIN / "pyproxy")
CGROUP_ROOT = Path("/sys/fs/cgroup")
TIMEOUT = 60.0


def sh(*argv: str, check: bool = True, timeout: float = 30, ns: str | None = None) -> str:
    """A host command (with the sbin directories on PATH); its stdout."""
    cmd = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(os.environ, PATH=search_path()),
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def netns_names() -> set[str]:
    return {line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()}


def nft_tables_named(name: str) -> set[tuple[str, str]]:
    """Which of our two tables (inet and bridge) called `name` exist (`nft list tables` reads
    the whole ruleset, slow on a busy host; listing an absent table is not)."""
    found = set()
    for family in ("inet", "bridge", "ip", "ip6"):
        done = subprocess.run(
            ["nft", "list", "table", family, name],
            capture_output=True,
            timeout=30,
            check=False,
            env=dict(os.environ, PATH=search_path()),
        )
        if done.returncode == 0:
            found.add((family, name))
    return found


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until `predicate()` is true. The timeout only bounds a hang (no timing claim)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s for: {what}")
        time.sleep(0.02)


def listening(host: str, port: int) -> bool:
    """Whether anything listens on host:port (TCP) in the host's namespace."""
    return bool(listening_inodes(host, port))


# ----------------------------------------------------------------------------- number claims


def _claim_range() -> range:
    """10..199, or `$PYPLUMB_TEST_CLAIMS` ("150-199"): claims are abstract sockets, which a run
    in another network namespace does not see, yet the process scans that tell one run's
    leftovers from another's go by number, so a run beside the suite in its own namespace
    takes numbers the suite does not."""
    first, _, last = (os.environ.get("PYPLUMB_TEST_CLAIMS") or "10-199").partition("-")
    return range(int(first), int(last) + 1)


def _claim_number() -> tuple[int, socket.socket]:
    """A number no other environment (of this or a concurrent run) holds, and its claim: an
    abstract unix socket bound under that number, released when it is closed or we die, and
    leaving no file behind."""
    taken_links = links()
    numbers = _claim_range()
    for n in numbers:
        if f"pyt-e{n}" in taken_links:
            continue
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0pyplumb-test-engine-{n}")
        except OSError:
            claim.close()
            continue
        if nft_tables_named(f"pyt_e{n}"):
            claim.close()
            continue
        return n, claim
    raise RuntimeError(f"no free pyt-e<n> number in {numbers.start}..{numbers.stop - 1}")


# ------------------------------------------------------------------------------ environment


@dataclass
class EngineEnv:
    """One isolated engine: its directories, names, environment and CLI."""

    n: int
    base: Path
    claim: socket.socket
    started: list[subprocess.Popen[Any]] = field(default_factory=list)
    extra_netns: list[str] = field(default_factory=list)
    extra_links: list[str] = field(default_factory=list)
    before_links: set[str] = field(default_factory=set)
    before_netns: set[str] = field(default_factory=set)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def run_root(self) -> Path:
        return self.base / "run"

    @property
    def subnet(self) -> str:
        return f"10.245.{self.n}.0/25"

    @property
    def prefix(self) -> str:
        """The first three octets of every address this environment may use."""
        return f"10.245.{self.n}."

    @property
    def bridge(self) -> str:
        return f"pyt-e{self.n}"

    @property
    def table(self) -> str:
        return f"pyt_e{self.n}"

    @property
    def user_subnet(self) -> str:
        return f"10.245.{self.n}.128/26"

    @property
    def user_bridge(self) -> str:
        return f"pyt-u{self.n}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENGINE_", "PYPROXY_"))}
        env.update(
            PATH=search_path(),
            PYENGINE_ROOT=str(self.root),
            PYENGINE_RUN=str(self.run_root),
            PYENGINE_BRIDGE_SUBNET=self.subnet,
            PYENGINE_BRIDGE_DEVICE=self.bridge,
            PYENGINE_NFT_TABLE=self.table,
            PYENGINE_PROXY=PYPROXY,
            PYENGINE_ENGINE=PYENGINE,
            # User networks' DNS servers forward to this environment's own upstream (a test
            # may run dnsmasq there), never to the host's resolver.
            PYENGINE_DNS_UPSTREAM=self.dns_upstream,
        )
        return env

    @property
    def dns_upstream(self) -> str:
        return f"127.0.{self.n}.53:5353"

    # the CLI ------------------------------------------------------------------------------

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        timeout: float = TIMEOUT,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`pyengine ARGS...`: its exit code, stdout and stderr (text)."""
        data = input.decode() if isinstance(input, bytes) else input
        return subprocess.run(
            [PYENGINE, *args],
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env | (extra_env or {}),
        )

    def ok(
        self, *args: str, timeout: float = TIMEOUT, extra_env: dict[str, str] | None = None
    ) -> str:
        """`pyengine ARGS...` that must succeed; its stdout."""
        done = self(*args, timeout=timeout, extra_env=extra_env)
        assert done.returncode == 0, (
            f"pyengine {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}"
        )
        return done.stdout

    def popen(self, *args: str, **kw: Any) -> "subprocess.Popen[Any]":
        """`pyengine ARGS...` in the background (killed at teardown if still running)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("env", self.env)
        proc = subprocess.Popen([PYENGINE, *args], **kw)
        self.started.append(proc)
        return proc

    def inspect(self, ref: str) -> dict[str, Any]:
        (doc,) = json.loads(self.ok("inspect", ref))
        assert isinstance(doc, dict)
        return doc

    def state(self, ref: str) -> dict[str, Any]:
        state = self.inspect(ref)["State"]
        assert isinstance(state, dict)
        return state

    def ps_rows(self, everything: bool = True) -> list[str]:
        """`ps [-a]` rows without the header."""
        out = self.ok("ps", *(["-a"] if everything else []))
        return out.splitlines()[1:]

    def row(self, name: str) -> str:
        """The `ps -a` row of the container named `name` (it must be listed once)."""
        rows = [r for r in self.ps_rows() if r.split()[-1] == name]
        assert len(rows) == 1, f"ps -a rows for {name}: {rows}"
        return rows[0]

    # files ---------------------------------------------------------------------------------

    def shim_dir(self, cid: str) -> Path:
        return self.run_root / "shims" / cid

    def shim_pid(self, cid: str) -> int:
        return int((self.shim_dir(cid) / "shim.pid").read_text().strip())

    def zygote_pid(self) -> int:
        return _read_pid(self.run_root / "zygote.pid")

    def forkserver_pid(self) -> int:
        return _read_pid(self.run_root / "cli.pid")

    def residents(self) -> set[int]:
        """The once-per-run-root processes that stay by design: the zygote and the fork server."""
        return {self.zygote_pid(), self.forkserver_pid()} - {0}

    def workers(self) -> list[int]:
        """Commands running in the fork server's workers now."""
        server = self.forkserver_pid()
        return children(server) if server else []

    def container_ids(self) -> set[str]:
        """Every container id this environment ever had (events, records, shims, roots)."""
        ids: set[str] = set()
        with contextlib.suppress(OSError):
            for line in (self.root / "events.jsonl").read_text().splitlines():
                with contextlib.suppress(ValueError):
                    ids.add(str(json.loads(line)["id"]))
        for d in (self.root / "containers", self.run_root / "shims", self.root / "rootfs"):
            with contextlib.suppress(OSError):
                ids |= {p.name for p in d.iterdir() if p.is_dir() and len(p.name) == 64}
        return ids

    def exit_commands(self, cid: str) -> list[int]:
        """Pids of `pyengine _exited CID` processes (restart policies run in them)."""
        return [p.pid for p in self.processes({cid}) if "_exited" in p.argv and cid in p.argv]

    def events(self) -> list[dict[str, Any]]:
        try:
            text = (self.root / "events.jsonl").read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    # what belongs to us ------------------------------------------------------------------------

    def processes(self, ids: set[str] | None = None) -> list[Proc]:
        """Live processes of this environment: shims, zygote, exit commands and runc (their
        command lines name our directories), proxies to our addresses, and container processes
        (in a cgroup of one of our containers)."""
        ids = self.container_ids() if ids is None else ids
        base, proxy = str(self.base).encode(), f":{self.prefix}".encode()
        pids = set(cgroup_pids(ids))
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    line = f.read()
            except OSError:
                continue
            if (
                base in line
                or (b"pyproxy" in line and proxy in line.replace(b"[", b""))
                # exit commands: `pyengine _exited ID` (env has exec'd it, our paths are gone)
                or (b"_exited" in line and any(cid.encode() in line for cid in ids))
            ):
                pids.add(int(entry.name))
        found = [read_proc(pid) for pid in sorted(pids) if pid != os.getpid()]
        return [p for p in found if p is not None and p.state not in "ZX"]

    def client_ns(self) -> tuple[str, str]:
        """A namespace `pyt-c<n>` with a veth to the host, 10.245.<n>.248/30: (name, host ip).

        Traffic from it to the host's address arrives on an interface of the host, so published
        ports reach the container through the nftables DNAT, not through the loopback proxy."""
        ns, host_if = f"pyt-c{self.n}", f"pyt-h{self.n}"
        host_ip, ns_ip = f"{self.prefix}249", f"{self.prefix}250"
        netns.create(ns)
        self.extra_netns.append(ns)
        netns.loopback_up(ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.extra_links.append(host_if)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "addr", "add", f"{ns_ip}/30", "dev", "eth0", ns=ns)
        sh("ip", "link", "set", "eth0", "up", ns=ns)
        return ns, host_ip

    # teardown --------------------------------------------------------------------------------

    def _veth_names(self, ids: set[str]) -> set[str]:
        names: set[str] = set()
        with contextlib.suppress(Exception), Driver(self.root, table=self.table) as driver:
            for cfg in driver.networks():
                names |= {host_veth_name(cfg, cid, "eth0") for cid in ids}
        return names

    def engine_leaks(self, ids: set[str]) -> list[str]:
        """What the engine should have removed by now (after `rm -f` of everything)."""
        problems = []
        if (self.root / "containers").is_dir() and (left := self.ps_rows()):
            problems.append(f"ps -a after rm -f: {left}")
        checks = {
            "container records": self.root / "containers",
            "container roots": self.root / "rootfs",
            "shim state dirs": self.run_root / "shims",
            "runc state": self.run_root / "runc",
        }
        for what, d in checks.items():
            with contextlib.suppress(FileNotFoundError):
                entries = sorted(p.name for p in d.iterdir() if not p.name.startswith("."))
                if entries:
                    problems.append(f"{what} left in {d}: {entries}")
        for d in (self.root / "endpoints", self.root / "ipam"):
            with contextlib.suppress(FileNotFoundError):
                for sub in d.iterdir():
                    if sub.is_dir():
                        entries = sorted(p.name for p in sub.iterdir() if p.name != "lock")
                        if entries:
                            problems.append(f"{sub} not empty: {entries}")
        if mounts := mounts_under(self.base):
            problems.append(f"mounts left: {mounts}")
        if namespaces := {f"pyengine-{i[:12]}" for i in ids} & netns_names():
            problems.append(f"netns left: {sorted(namespaces)}")
        if veths := self._veth_names(ids) & links():
            problems.append(f"veths left: {sorted(veths)}")
        if elements := self.nft_port_elements():
            problems.append(f"published ports left in nft table {self.table}: {elements}")
        if groups := cgroups_of(ids):
            problems.append(f"cgroups left: {groups}")
        residents = self.residents()
        if procs := [p for p in self.processes(ids) if p.pid not in residents]:
            problems.append("processes left:\n  " + "\n  ".join(map(str, procs)))
        return problems

    def nft_port_elements(self) -> list[str]:
        """Elements of the port-publishing maps (`pm*`) of our inet table."""
        out = sh("nft", "-j", "list", "table", "inet", self.table, check=False)
        if not out:
            return []
        found = []
        for item in json.loads(out).get("nftables", []):
            m = item.get("map")
            if m and m.get("name", "").startswith("pm") and m.get("elem"):
                found.append(f"{m['name']}: {json.dumps(m['elem'])}")
        return found

    def force_cleanup(self, ids: set[str]) -> None:
        """Remove everything this environment may have made, whatever state it is in."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        # Shims, the zygote, exit commands, proxies; again for any forked meanwhile.
        for _ in range(5):
            left = self.processes(ids)
            if not left:
                break
            for p in left:
                if p.alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p.pid, signal.SIGKILL)
            time.sleep(0.05)
        runc_root = self.run_root / "runc"
        with contextlib.suppress(FileNotFoundError):
            for cid in os.listdir(runc_root):
                sh("runc", "--root", str(runc_root), "delete", "--force", cid, check=False)
        for point in sorted(mounts_under(self.base), key=len, reverse=True):
            sh("umount", "-l", point, check=False)
        with contextlib.suppress(Exception), Driver(self.root, table=self.table) as driver:
            for rec in driver.endpoints():
                with contextlib.suppress(Exception):
                    driver.remove_endpoint(rec.network, rec.container_id, rec.ifname)
            for cfg in driver.networks():
                with contextlib.suppress(Exception):
                    driver.delete_network(cfg.name)
        with contextlib.suppress(Exception), Driver(self.base / "scratch", table=self.table) as d:
            d.delete_table()
        for name in {f"pyengine-{i[:12]}" for i in ids} | set(self.extra_netns):
            if name in netns_names():
                with contextlib.suppress(Exception):
                    netns.remove(name)
        present = links()
        for name in ({self.bridge, self.user_bridge, *self.extra_links}) & present:
            sh("ip", "link", "del", name, check=False)
        for group in sorted(cgroups_of(ids), key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(group)
        shutil.rmtree(self.base, ignore_errors=True)

    def host_leaks(self, ids: set[str], veths: set[str]) -> list[str]:
        """What is still on the host after the forced cleanup, compared with before."""
        problems = []
        ours = {self.bridge, self.user_bridge, *self.extra_links, *veths}
        if added := (links() - self.before_links) & ours:
            problems.append(f"links left: {sorted(added)}")
        ns_ours = {f"pyengine-{i[:12]}" for i in ids} | set(self.extra_netns)
        if added_ns := (netns_names() - self.before_netns) & ns_ours:
            problems.append(f"netns left: {sorted(added_ns)}")
        if tables := nft_tables_named(self.table):
            problems.append(f"nft tables left: {sorted(tables)}")
        if mounts := mounts_under(self.base):
            problems.append(f"mounts left: {mounts}")
        if procs := self.processes(ids):
            problems.append("processes left:\n  " + "\n  ".join(map(str, procs)))
        if groups := cgroups_of(ids):
            problems.append(f"cgroups left: {groups}")
        if self.base.exists():
            problems.append(f"{self.base} left")
        return problems


def cgroup_pids(ids: set[str]) -> list[int]:
    """Processes in the cgroups of these containers."""
    pids = []
    for group in cgroups_of(ids):
        with contextlib.suppress(OSError):
            pids += [int(x) for x in Path(group, "cgroup.procs").read_text().split()]
    return pids


def cgroups_of(ids: set[str]) -> list[str]:
    """cgroup directories (v1 or v2) of these containers (`cgroupsPath` /pyengine/<id>)."""
    found: list[str] = []
    if not ids:
        return found
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else ():
        parent = hierarchy / "pyengine"
        if not parent.is_dir():
            parent = CGROUP_ROOT / "pyengine"
        with contextlib.suppress(OSError):
            found += [str(parent / cid) for cid in ids if (parent / cid).is_dir()]
    return sorted(set(found))


def new_env() -> EngineEnv:
    require_root()
    for binary in ("runc", "nft", "ip"):
        require_binary(binary)
    n, claim = _claim_number()
    base = Path(tempfile.mkdtemp(prefix="pyt", dir="/tmp"))
    env = EngineEnv(n=n, base=base, claim=claim)
    env.before_links = links()
    env.before_netns = netns_names()
    return env


def close_env(env: EngineEnv) -> None:
    """The two-part teardown: the engine's own cleanup, checked; then by force, checked."""
    problems: list[str] = []
    try:
        ids = env.container_ids()
        if env.root.exists():
            # The records on disk say which containers exist (`ps -aq` would list the same).
            every = sorted(p.parent.name for p in (env.root / "containers").glob("*/record.json"))
            if every:
                done = env("rm", "-f", *every, timeout=TIMEOUT)
                # A --rm container may remove itself between the two commands.
                errors = [
                    line
                    for line in done.stderr.splitlines()
                    if line.strip() and "No such container" not in line
                ]
                if errors:
                    problems.append(f"rm -f exited {done.returncode}: {errors}")
            # Volumes go by the engine's own command too (a tmpfs or bind volume is a mount),
            # run in its own process: a warm process started now would be waited for below.
            alone = {"PYENGINE_FORKSERVER": "0"}
            volumes = [p.name for p in (env.root / "volumes").glob("[!.]*")]
            if volumes:
                done = env("volume", "rm", "-f", *volumes, timeout=TIMEOUT, extra_env=alone)
                if done.returncode != 0:
                    problems.append(f"volume rm -f exited {done.returncode}: {done.stderr}")
            # Exit commands started by the kills finish on their own (a proxy left behind
            # would not: it is reported below, without waiting for it). The residents are
            # looked up each time: `rm -f` may have started the warm process just now.
            with contextlib.suppress(AssertionError):
                wait_for(
                    lambda: (
                        not [
                            p
                            for p in env.processes(ids)
                            if p.pid not in env.residents()
                            and not any("pyproxy" in a for a in p.argv)
                        ]
                    ),
                    10,
                    "the engine's processes to end",
                )
            ids |= env.container_ids()
            problems += [f"engine: {p}" for p in env.engine_leaks(ids)]
        veths = env._veth_names(ids)
        env.force_cleanup(ids)
        problems += [f"host: {p}" for p in env.host_leaks(ids, veths)]
    finally:
        env.claim.close()
    assert not problems, "teardown found leftovers:\n" + "\n".join(problems)


def engine_fixture() -> Iterator[EngineEnv]:
    """`engine = pytest.fixture(engine_fixture)` in a test module."""
    env = new_env()
    try:
        yield env
    finally:
        close_env(env)


def http_get(url: str, timeout: float = 10) -> str:
    """GET from this process; the body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode())


def http_get_in(ns: str, url: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """GET from inside namespace `ns` (a Python child under `ip netns exec`)."""
    code = (
        "import sys, urllib.request\n"
        f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode())\n"
    )
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout + 20,
        check=False,
        env=dict(os.environ, PATH=search_path()),
    )


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found += [int(x) for x in text.split()]
    return found


def cmdline(pid: int) -> Sequence[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


@contextlib.contextmanager
def user_network(env: EngineEnv, name: str) -> Iterator[str]:
    """A user network on the environment's spare subnet; removed after, with its containers
    (and so its DNS server, which leaves with its bridge)."""
    env.ok(
        "network", "create", "--subnet", env.user_subnet,
        "-o", f"com.docker.network.bridge.name={env.user_bridge}", name,
    )  # fmt: skip
    try:
        yield name
    finally:
        every = sorted(p.parent.name for p in (env.root / "containers").glob("*/record.json"))
        if every:
            env("rm", "-f", *every)
        env("network", "rm", name)
