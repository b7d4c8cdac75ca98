"""What we created, on disk under a state root, so deletes are exact and GC can reconcile.

    <root>/networks/<name>.json                   a NetworkConfig (to_json)
    <root>/endpoints/<network>/<cid>--<if>.json   an EndpointRecord (state "adding" or "ready")
    <root>/ipam/<network>/...                     leases (ipam_disk.py)
    <root>/lock                                   flock: network create/delete, port ownership
    <root>/gc.lock                                flock: shared by ADD/DEL, exclusive for GC
    <root>/nft.gen                                a cache: when our chains need no re-apply

Every file is replaced atomically (write a temporary, rename), so a killed writer leaves the
old or the new content, never a torn one. An endpoint record is written as "adding" before any
kernel object exists and flipped to "ready" at the end of ADD: GC removes what "adding" names.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bridge.config import NetworkConfig, PortMapping, network_from_json, port_from_json
from bridge.files import join, names, read_text, write_text
from netns.flock import flocked

DEFAULT_ROOT = "/var/lib/pyengine"


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Atomically replace `path` with `data` as JSON."""
    folder, name = os.path.split(os.fspath(path))
    tmp = join(folder, f".tmp-{os.getpid()}-{name}")
    write_text(tmp, json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@dataclass(frozen=True)
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
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["ports"] = [p.to_json() for p in self.ports]
        d["ips"] = list(self.ips)
        d["extra"] = json.loads(json.dumps(self.extra))  # a copy, as asdict() made
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EndpointRecord:
        d = dict(d)
        d["ports"] = tuple(port_from_json(p) for p in d.get("ports", ()))
        d["ips"] = tuple(d.get("ips", ()))
        return cls(**d)

    def with_(self, **changes: Any) -> EndpointRecord:
        return replace(self, **changes)


class State:
    """Files under one state root."""

    def __init__(self, root: Path | str) -> None:
        self.dir = os.fspath(root)

    def __repr__(self) -> str:
        return f"<State {self.dir}>"

    @property
    def root(self) -> Path:
        return Path(self.dir)

    # -- locks
    def lock(self) -> contextlib.AbstractContextManager[bool]:
        return flocked(join(self.dir, "lock"))

    def op_lock(self, exclusive: bool = False) -> contextlib.AbstractContextManager[bool]:
        return flocked(join(self.dir, "gc.lock"), shared=not exclusive)

    # -- networks
    def network_file(self, name: str) -> str:
        return join(self.dir, "networks", f"{name}.json")

    def save_network(self, cfg: NetworkConfig) -> None:
        os.makedirs(join(self.dir, "networks"), exist_ok=True)
        write_json(self.network_file(cfg.name), cfg.to_json())

    def load_network(self, name: str) -> NetworkConfig | None:
        try:
            return network_from_json(json.loads(read_text(self.network_file(name))))
        except FileNotFoundError:
            return None

    def networks(self) -> list[NetworkConfig]:
        folder = join(self.dir, "networks")
        found = []
        for name in names(folder, ".json"):
            with contextlib.suppress(FileNotFoundError):
                found.append(network_from_json(json.loads(read_text(join(folder, name)))))
        return found

    def delete_network(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.network_file(name))
        with contextlib.suppress(OSError):
            os.rmdir(self.endpoint_dir(name))

    def ipam_dir(self, network: str) -> str:
        return join(self.dir, "ipam", network)

    # -- endpoints
    def endpoint_dir(self, network: str) -> str:
        return join(self.dir, "endpoints", network)

    def endpoint_file(self, network: str, container_id: str, ifname: str) -> str:
        return join(self.endpoint_dir(network), f"{container_id}--{ifname}.json")

    def save_endpoint(self, rec: EndpointRecord) -> None:
        os.makedirs(self.endpoint_dir(rec.network), exist_ok=True)
        write_json(self.endpoint_file(rec.network, rec.container_id, rec.ifname), rec.to_json())

    def load_endpoint(self, network: str, container_id: str, ifname: str) -> EndpointRecord | None:
        try:
            text = read_text(self.endpoint_file(network, container_id, ifname))
        except FileNotFoundError:
            return None
        return EndpointRecord.from_json(json.loads(text))

    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        base = join(self.dir, "endpoints")
        dirs = [join(base, network)] if network else [join(base, n) for n in names(base)]
        found = []
        for d in dirs:
            for name in names(d, ".json"):
                try:
                    data = json.loads(read_text(join(d, name)))
                except FileNotFoundError:
                    continue
                except ValueError as exc:
                    if isinstance(exc, json.JSONDecodeError):  # a torn temporary
                        continue
                    raise
                found.append(EndpointRecord.from_json(data))
        return found

    def delete_endpoint(self, network: str, container_id: str, ifname: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.endpoint_file(network, container_id, ifname))

    def sweep_temporaries(self) -> None:
        """Remove `.tmp-*` files a killed writer left (GC holds the exclusive op lock)."""
        base = join(self.dir, "endpoints")
        for folder in (join(self.dir, "networks"), *(join(base, n) for n in names(base))):
            for name in names(folder, prefix=".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(join(folder, name))
