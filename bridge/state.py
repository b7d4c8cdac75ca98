"""What we created, on disk under a state root, so deletes are exact and GC can reconcile.

    <root>/networks/<name>.json                   a NetworkConfig (to_json)
    <root>/endpoints/<network>/<cid>--<if>.json   an EndpointRecord (state "adding" or "ready")
    <root>/ipam/<network>/...                     leases (ipam_disk.py)
    <root>/lock                                   flock: network create/delete, port ownership
    <root>/gc.lock                                flock: shared by ADD/DEL, exclusive for GC

Every file is replaced atomically (write a temporary, rename), so a killed writer leaves the
old or the new content, never a torn one. An endpoint record is written as "adding" before any
kernel object exists and flipped to "ready" at the end of ADD: GC removes what "adding" names.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bridge.config import NetworkConfig, PortMapping, network_from_json, port_from_json

DEFAULT_ROOT = "/var/lib/pyengine"


def write_json(path: Path, data: Any) -> None:
    """Atomically replace `path` with `data` as JSON."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@contextlib.contextmanager
def flocked(path: Path, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
    """Hold flock(2) on `path` (created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """One container interface on one network, as far as we created it."""

    network: str
    container_id: str
    ifname: str
    netns: str
    host_veth: str
    ips: tuple[str, ...] = ()
    mac: str = ""
    ports: tuple[PortMapping, ...] = ()
    state: str = "adding"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ipv4(self) -> str | None:
        return next((ip for ip in self.ips if ":" not in ip), None)

    @property
    def ipv6(self) -> str | None:
        return next((ip for ip in self.ips if ":" in ip), None)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ports"] = [p.to_json() for p in self.ports]
        d["ips"] = list(self.ips)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "EndpointRecord":
        d = dict(d)
        d["ports"] = tuple(port_from_json(p) for p in d.get("ports", ()))
        d["ips"] = tuple(d.get("ips", ()))
        return cls(**d)

    def with_(self, **changes: Any) -> "EndpointRecord":
        return replace(self, **changes)


class State:
    """Files under one state root."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<State {self.root}>"

    # -- locks
    def lock(self) -> contextlib.AbstractContextManager[None]:
        return flocked(self.root / "lock")

    def op_lock(self, exclusive: bool = False) -> contextlib.AbstractContextManager[None]:
        return flocked(self.root / "gc.lock", fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    # -- networks
    def network_file(self, name: str) -> Path:
        return self.root / "networks" / f"{name}.json"

    def save_network(self, cfg: NetworkConfig) -> None:
        (self.root / "networks").mkdir(parents=True, exist_ok=True)
        write_json(self.network_file(cfg.name), cfg.to_json())

    def load_network(self, name: str) -> NetworkConfig | None:
        try:
            return network_from_json(json.loads(self.network_file(name).read_text()))
        except FileNotFoundError:
            return None

    def networks(self) -> list[NetworkConfig]:
        folder = self.root / "networks"
        if not folder.is_dir():
            return []
        found = []
        for f in sorted(folder.glob("*.json")):
            with contextlib.suppress(FileNotFoundError):
                found.append(network_from_json(json.loads(f.read_text())))
        return found

    def delete_network(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.network_file(name).unlink()
        with contextlib.suppress(OSError):
            self.endpoint_dir(name).rmdir()

    def ipam_dir(self, network: str) -> Path:
        return self.root / "ipam" / network

    # -- endpoints
    def endpoint_dir(self, network: str) -> Path:
        return self.root / "endpoints" / network

    def endpoint_file(self, network: str, container_id: str, ifname: str) -> Path:
        return self.endpoint_dir(network) / f"{container_id}--{ifname}.json"

    def save_endpoint(self, rec: EndpointRecord) -> None:
        self.endpoint_dir(rec.network).mkdir(parents=True, exist_ok=True)
        write_json(self.endpoint_file(rec.network, rec.container_id, rec.ifname), rec.to_json())

    def load_endpoint(self, network: str, container_id: str, ifname: str) -> EndpointRecord | None:
        try:
            text = self.endpoint_file(network, container_id, ifname).read_text()
        except FileNotFoundError:
            return None
        return EndpointRecord.from_json(json.loads(text))

    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        base = self.root / "endpoints"
        dirs = [base / network] if network else sorted(base.glob("*")) if base.is_dir() else []
        found = []
        for d in dirs:
            if not d.is_dir():
                continue
            for f in sorted(d.glob("*.json")):
                with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                    found.append(EndpointRecord.from_json(json.loads(f.read_text())))
        return found

    def delete_endpoint(self, network: str, container_id: str, ifname: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.endpoint_file(network, container_id, ifname).unlink()

    def sweep_temporaries(self) -> None:
        """Remove `.tmp-*` files a killed writer left (GC holds the exclusive op lock)."""
        for folder in (self.root / "networks", *(self.root / "endpoints").glob("*")):
            if folder.is_dir():
                for f in folder.glob(".tmp-*"):
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
