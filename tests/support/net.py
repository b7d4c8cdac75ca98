"""Kernel-test helpers for netns/bridge: throw-away namespaces, a test "host" with an uplink to
an "outside" namespace, socket probes run inside namespaces, and before/after snapshots.

Everything made here is named `pyt<hex>...`, lives in namespaces the test created, and is
removed by the fixtures' finalizers even when the test fails.
"""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import netns

UPLINK_NET = "10.242.250"  # host .1 <-> outside .2


def sh(*argv: str, ns: str | None = None, check: bool = True, input: str | None = None) -> str:
    cmd = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=60, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def uid() -> str:
    return secrets.token_hex(3)


@dataclass
class Namespaces:
    """Creates namespaces and removes all of them at close."""

    prefix: str = field(default_factory=lambda: "pyt" + uid())
    made: list[str] = field(default_factory=list)

    def new(self, suffix: str) -> str:
        name = f"{self.prefix}{suffix}"
        netns.create(name)
        self.made.append(name)
        netns.loopback_up(name)
        return name

    def close(self) -> None:
        for name in reversed(self.made):
            netns.remove(name)
        self.made.clear()


@dataclass
class World:
    """A test host namespace with an uplink veth to an "outside" namespace (no route back to
    container subnets there, so replies only come back through masquerade)."""

    ns: Namespaces
    host: str
    outside: str
    host_ip: str = f"{UPLINK_NET}.1"
    outside_ip: str = f"{UPLINK_NET}.2"


def make_world(ns: Namespaces) -> World:
    host, outside = ns.new("h"), ns.new("o")
    up = f"{ns.prefix}u"
    sh("ip", "link", "add", up, "type", "veth", "peer", "name", "eth0", "netns", outside, ns=host)
    sh("ip", "addr", "add", f"{UPLINK_NET}.1/24", "dev", up, ns=host)
    sh("ip", "link", "set", up, "up", ns=host)
    sh("ip", "addr", "add", f"{UPLINK_NET}.2/24", "dev", "eth0", ns=outside)
    sh("ip", "link", "set", "eth0", "up", ns=outside)
    return World(ns, host, outside)


class Server:
    """A TCP or UDP server inside a namespace that answers every request with `reply` and
    records the peer address of each."""

    def __init__(self, ns: str, port: int, reply: str, proto: str = "tcp", host: str = "") -> None:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = netns.socket_in(ns, family, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        if proto == "tcp":
            self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.proto, self.reply, self.peers = proto, reply.encode(), []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if self.proto == "tcp":
                    conn, peer = self.sock.accept()
                    self.peers.append(peer[0])
                    with conn:
                        conn.settimeout(2)
                        with contextlib.suppress(OSError):
                            conn.recv(64)
                            conn.sendall(self.reply)
                else:
                    _data, peer = self.sock.recvfrom(64)
                    self.peers.append(peer[0])
                    self.sock.sendto(self.reply, peer)
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def request(ns: str | None, ip: str, port: int, proto: str = "tcp", timeout: float = 3.0) -> str:
    """Send one request from namespace `ns` (None: this process's); the reply, or "" if none."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = netns.socket_in(ns, socket.AF_INET6 if ":" in ip else socket.AF_INET, kind)
    with sock:
        sock.settimeout(timeout)
        try:
            if proto == "tcp":
                sock.connect((ip, port))
                sock.sendall(b"hi")
                return sock.recv(64).decode()
            sock.sendto(b"hi", (ip, port))
            return sock.recv(64).decode()
        except OSError:
            return ""


@dataclass(frozen=True)
class Snapshot:
    """What a namespace and a state root hold, for before/after leak checks."""

    links: frozenset[str]
    netns: frozenset[str]
    tables: str
    files: frozenset[str]
    mounts: int

    @classmethod
    def take(cls, host: str, root: Path | None = None, table: str = "") -> "Snapshot":
        links = frozenset(
            line.split(":")[1].strip().split("@")[0]
            for line in sh("ip", "-o", "link", "show", ns=host).splitlines()
        )
        files: frozenset[str] = frozenset()
        if root is not None and root.exists():
            files = frozenset(
                str(p.relative_to(root))
                for p in root.rglob("*")
                if p.is_file() and p.name not in ("lock", "gc.lock")
            )
        ruleset = sh("nft", "-j", "list", "ruleset", ns=host)
        objs = [o for o in json.loads(ruleset)["nftables"] if "metainfo" not in o]
        for o in objs:
            for v in o.values():
                if isinstance(v, dict):
                    v.pop("handle", None)
        # Only this test's namespaces (<prefix>h is the World's host): other suites running on
        # the same machine create and remove their own meanwhile.
        prefix = host[:-1]
        mounts = sum(
            1
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if f"/run/netns/{prefix}" in line
        )
        names = frozenset(n for n in netns.list_names() if n.startswith(prefix))
        return cls(links, names, json.dumps(objs, sort_keys=True), files, mounts)

    def diff(self, other: "Snapshot") -> list[str]:
        out = []
        if self.links != other.links:
            out.append(f"links {sorted(self.links ^ other.links)}")
        if self.netns != other.netns:
            out.append(f"netns {sorted(self.netns ^ other.netns)}")
        if self.tables != other.tables:
            out.append("nft ruleset differs")
        if self.files != other.files:
            out.append(f"state files {sorted(self.files ^ other.files)}")
        if self.mounts != other.mounts:
            out.append(f"/run/netns mounts {self.mounts} -> {other.mounts}")
        return out


def cni(
    plugin: str,
    command: str,
    conf: dict,  # type: ignore[type-arg]
    *,
    cid: str = "",
    netns_path: str = "",
    ifname: str = "eth0",
    host: str | None = None,
    extra_env: dict[str, str] | None = None,
    nsenter: bool = False,
) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Run a CNI plugin exactly as a runtime does (env + stdin), optionally inside `host`:
    through `ip netns exec` (a mount namespace of its own, /sys remounted), or with `nsenter`
    the network namespace only, as a runtime's plugin shares the runtime's mounts."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_PATH": "/usr/lib/cni",
    }
    if cid:
        env["CNI_CONTAINERID"] = cid
    if netns_path:
        env["CNI_NETNS"] = netns_path
    if ifname:
        env["CNI_IFNAME"] = ifname
    env |= extra_env or {}
    if host is None:
        argv = [plugin]
    elif nsenter:
        argv = ["nsenter", f"--net=/run/netns/{host}", plugin]
    else:
        argv = ["ip", "netns", "exec", host, plugin]
    done = subprocess.run(
        argv, input=json.dumps(conf).encode(), capture_output=True, env=env, timeout=60, check=False
    )
    out = done.stdout.decode().strip()
    return done.returncode, json.loads(out) if out else {}


@contextlib.contextmanager
def servers(*specs: tuple[str, int, str, str]) -> Iterator[list[Server]]:
    made = [Server(ns, port, reply, proto) for ns, port, reply, proto in specs]
    try:
        yield made
    finally:
        for s in made:
            s.close()


def world_fixture() -> Iterator[World]:
    """Body of a `world` fixture: a fresh host + outside pair, removed afterwards."""
    from tests.conftest import require_binary, require_root

    require_root()
    require_binary("ip")
    require_binary("nft")
    spaces = Namespaces()
    try:
        yield make_world(spaces)
    finally:
        spaces.close()


PYBRIDGE = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pybridge")


@dataclass
class Conflist:
    """Drives a conflist as libcni does: ADD in order with prevResult threaded through, CHECK
    in order with the cached result, DEL in reverse; capabilities filter runtimeConfig."""

    conf: dict  # type: ignore[type-arg]
    host: str | None = None
    paths: dict[str, str] = field(default_factory=dict)
    cached: dict = field(default_factory=dict)  # type: ignore[type-arg]

    def _plugin_conf(self, plugin: dict, runtime: dict, prev: dict | None) -> dict:  # type: ignore[type-arg]
        out = dict(plugin)
        out["name"] = self.conf["name"]
        out["cniVersion"] = self.conf["cniVersion"]
        caps = {k for k, on in (plugin.get("capabilities") or {}).items() if on}
        rc = {k: v for k, v in runtime.items() if k in caps}
        if rc:
            out["runtimeConfig"] = rc
        if prev is not None:
            out["prevResult"] = prev
        return out

    def _exe(self, kind: str) -> str:
        return self.paths.get(kind, f"/usr/lib/cni/{kind}")

    def add(self, cid: str, ns_path: str, runtime: dict | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
        prev = None
        for plugin in self.conf["plugins"]:
            conf = self._plugin_conf(plugin, runtime or {}, prev)
            code, out = cni(
                self._exe(plugin["type"]), "ADD", conf, cid=cid, netns_path=ns_path, host=self.host
            )
            if code:
                return code, out
            prev = out
        self.cached[cid] = prev
        return 0, prev or {}

    def check(self, cid: str, ns_path: str, runtime: dict | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
        for plugin in self.conf["plugins"]:
            conf = self._plugin_conf(plugin, runtime or {}, self.cached.get(cid))
            code, out = cni(
                self._exe(plugin["type"]),
                "CHECK",
                conf,
                cid=cid,
                netns_path=ns_path,
                host=self.host,
            )
            if code:
                return code, out
        return 0, {}

    def delete(self, cid: str, ns_path: str, runtime: dict | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
        for plugin in reversed(self.conf["plugins"]):
            conf = self._plugin_conf(plugin, runtime or {}, self.cached.get(cid))
            code, out = cni(
                self._exe(plugin["type"]), "DEL", conf, cid=cid, netns_path=ns_path, host=self.host
            )
            if code:
                return code, out
        self.cached.pop(cid, None)
        return 0, {}
