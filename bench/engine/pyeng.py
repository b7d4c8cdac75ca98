"""pyengine, isolated from any real installation, for the pyengine-vs-docker scenarios.

Every command runs with PYENGINE_ROOT/PYENGINE_RUN under the bench's temp dir (the run dir is a
short path: unix socket paths are limited to 107 bytes), its default bridge `pyb-eng0` in
10.247.0.0/24 and its nft table `pyb_engine`. Cleanup removes the containers (`rm -f`), then by
pid whatever is left of the shims, proxies and the zygote (`<run>/zygote.pid`), the containers'
`pyengine-<id>` namespaces, the bridge, both `pyb_engine` tables and every mount under the root.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.engine.hostsnap import PATH, sh
from bench.engine.procscan import Proc, all_procs, kill_pids
from bench.procfs import alive

PYENGINE = str(Path(sys.executable).parent / "pyengine")
BRIDGE = "pyb-eng0"
SUBNET = "10.247.0.0/24"
TABLE = "pyb_engine"
TABLES = (("inet", TABLE), ("bridge", TABLE), ("ip", TABLE), ("ip6", TABLE))


def _answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class PyEngine:
    def __init__(self, base: Path) -> None:
        self.root = base / "e"
        self.run_dir = base / "r"
        self.env = dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}:{PATH}",
            PYENGINE_ROOT=str(self.root),
            PYENGINE_RUN=str(self.run_dir),
            PYENGINE_BRIDGE_SUBNET=SUBNET,
            PYENGINE_BRIDGE_DEVICE=BRIDGE,
            PYENGINE_NFT_TABLE=TABLE,
        )
        self.ids: set[str] = set()
        self.service: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Remove a crashed run's leftovers by our names, then build the default image."""
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            sh(["ip", "link", "del", BRIDGE])
        for family, name in TABLES:
            sh(["nft", "delete", "table", family, name], check=False)
        self.cmd("run", "--rm", "busybox", "true")  # imports busybox, makes the bridge

    def argv(self, *args: str) -> list[str]:
        return [PYENGINE, *args]

    def api(self) -> str:
        """The Docker API socket of a `pyengine system service` over this root, started on
        first use (the docker CLI then drives pyengine as it drives dockerd)."""
        sock = self.run_dir / "docker.sock"
        if self.service is None:
            self.service = subprocess.Popen(
                [PYENGINE, "system", "service", "--time", "0", f"unix://{sock}"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while not _answers(sock):
                if self.service.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pyengine system service did not start")
                time.sleep(0.02)
        return f"unix://{sock}"

    def cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env, timeout=600, check=False
        )
        if check and done.returncode:
            raise RuntimeError(f"pyengine {' '.join(args)[:80]}: {done.stderr.strip()[-800:]}")
        return done

    # ------------------------------------------------------------------------ processes

    def zygote(self) -> int | None:
        return _read_pid(self.run_dir / "zygote.pid")

    def forkserver(self) -> int | None:
        """The warm process `pyengine` commands are forked from (engine/warm/forkserver.py)."""
        return _read_pid(self.run_dir / "cli.pid")

    def hubs(self) -> list[int]:
        """pyproxy hubs of this engine (shared mode: PYPROXY_HUB=pyengine:<root> in their
        environment): one serves every port of the engine, so it is counted once."""
        marker = f"\0PYPROXY_HUB=pyengine:{self.root}\0".encode()
        found = []
        for p in all_procs():
            if "-hub" not in p.argv:
                continue
            try:
                with open(f"/proc/{p.pid}/environ", "rb") as f:
                    if marker in b"\0" + f.read():
                        found.append(p.pid)
            except OSError:
                continue
        return found

    def records(self) -> list[dict[str, object]]:
        found = []
        for path in (self.root / "containers").glob("*/record.json"):
            with contextlib.suppress(OSError, ValueError):
                found.append(json.loads(path.read_text()))
        return found

    def shims(self) -> list[int]:
        return [
            p
            for path in (self.run_dir / "shims").glob("*/shim.pid")
            if (p := _read_pid(path)) and alive(p)
        ]

    def proxies(self) -> list[int]:
        pids = []
        for record in self.records():
            self.ids.add(str(record["id"]))
            resources = record.get("resources")
            handle = resources.get("proxy") if isinstance(resources, dict) else None
            if handle and alive(pid := int(str(handle).partition(":")[0])):
                pids.append(pid)
        return pids

    # ------------------------------------------------------------------------- teardown

    def ours(self, p: Proc) -> bool:
        """Checked on the live argv, never on a remembered pid (pids are reused): the zygote and
        the shims it forked carry `--run-root <run>`; our proxies relay to our subnet."""
        if str(self.run_dir) in p.argv:  # exactly: the bench's other run dir shares a prefix
            return True
        if p.pid in self.hubs():
            return True
        return any(a.endswith("pyproxy") for a in p.argv[:2]) and any(
            f":{SUBNET.rsplit('.', 1)[0]}." in a for a in p.argv
        )

    def stop(self) -> list[str]:
        notes: list[str] = []
        if self.service is not None and self.service.poll() is None:
            self.service.terminate()
            self.service.wait(30)
        self.proxies()  # learns the container ids from the records
        if self.root.is_dir():
            ids = [str(r["id"]) for r in self.records()]
            if ids:
                done = self.cmd("rm", "-f", *ids, check=False)
                if done.returncode:
                    notes.append(f"pyengine rm -f: {done.stderr.strip()[-300:]}")
        zygote, server = self.zygote(), self.forkserver()
        if hubs := self.hubs():  # it outlives its last port by a few seconds, by design
            kill_pids(hubs)
        left = [p for p in all_procs() if p.pid not in (zygote, server) and self.ours(p)]
        if left:
            notes += [f"killing leftover {p.pid}: {' '.join(p.argv)[:100]}" for p in left]
            kill_pids([p.pid for p in left])
        for resident in (zygote, server):
            if (
                resident
                and alive(resident)
                and any(self.ours(p) for p in all_procs() if p.pid == resident)
            ):
                kill_pids([resident])
        netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
        for cid in self.ids:
            if (name := f"pyengine-{cid[:12]}") in netns:
                notes.append(f"namespace {name} left: deleted")
                sh(["ip", "netns", "del", name], check=False)
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            sh(["ip", "link", "del", BRIDGE], check=False)
        for family, name in TABLES:
            sh(["nft", "delete", "table", family, name], check=False)
        return notes
