"""What the engine records about one container: its configuration and its last known state.

Records are frozen; a change is a new record written whole (`store.ContainerStore.update`).
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from engine.containers import mounts
from engine.containers.health import Healthcheck
from engine.containers.mounts import MountSpec
from engine.containers.ports import PortBinding
from engine.containers.restart import RestartPolicy

STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
LIVE = ("running", "paused")  # a task runs (or is frozen): signals, exec, stop apply


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The process and its environment (Docker's `Config`)."""

    image: str
    image_id: str = ""
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    tty: bool = False
    open_stdin: bool = False
    stop_signal: int = 15
    stop_timeout: int = 10
    exposed: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # `key=value`, in the order given
    hostname: str = ""  # "" is the short id, as Docker
    healthcheck: Healthcheck = field(default_factory=Healthcheck)
    domainname: str = ""


@dataclass(frozen=True, slots=True)
class NetworkJoin:
    """A network beyond the first: `--network` again at create, or `network connect`."""

    name: str
    aliases: tuple[str, ...] = ()
    ip: str = ""  # the address asked for (`--ip`); "" is any free one


@dataclass(frozen=True, slots=True)
class NetworkAddress:
    """Where a running container is on a network beyond its first."""

    network: str
    ip: str
    gateway: str = ""
    ifname: str = "eth1"


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What the host provides (Docker's `HostConfig`)."""

    network: str = "bridge"
    ports: tuple[PortBinding, ...] = ()
    publish_all: bool = False
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    runtime: str = "runc"
    init: bool = False
    memory: int = 0
    nano_cpus: int = 0
    pids_limit: int = 0
    # json-file rotation (Docker's --log-opt max-size/max-file); -1 = unlimited.
    log_max_size: int = -1
    log_max_file: int = 1
    # Other names its peers on a user network know it by (--network-alias; compose's service).
    aliases: tuple[str, ...] = ()
    # -v, --mount, --tmpfs and the image's VOLUMEs; create names every volume.
    mounts: tuple[MountSpec, ...] = ()
    read_only: bool = False
    volumes_from: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()  # NAME:IP, as Docker's HostConfig.ExtraHosts
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # TARGET_ID:ALIAS once created (NAME[:ALIAS] as requested)
    ip: str = ""  # on the first network (`--ip`); "" is any free one
    mac_address: str = ""  # on the first network; "" is a random one
    extra_networks: tuple[NetworkJoin, ...] = ()
    # Privileges and resources beyond the basics (engine/containers/resources.py).
    ulimits: tuple[str, ...] = ()
    shm_size: int = 0  # bytes; 0 is Docker's 64 MiB
    sysctls: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    memory_swap: int = 0  # memory+swap bytes; -1 unlimited; 0 none set
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    oom_kill_disable: bool = False
    pid_mode: str = ""
    ipc_mode: str = ""
    privileged: bool = False
    security_opts: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerState:
    """The last state the engine saw (Docker's `State`)."""

    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    restart_count: int = 0
    stopped_by_user: bool = False
    # The host ports actually bound while it runs (host_port filled in for `-p 80`).
    ports: tuple[PortBinding, ...] = ()
    ip_address: str = ""
    gateway: str = ""
    extra_addresses: tuple[NetworkAddress, ...] = ()
    # The health check's status as the shim last wrote it: filled in by listings, not kept.
    health: str = ""


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    """One container: identity, configuration and state."""

    id: str
    name: str
    created: float
    config: ContainerConfig
    host: HostConfig = HostConfig()
    state: ContainerState = ContainerState()
    # Resources the engine set up for it, so removal and GC undo exactly these.
    resources: dict[str, str] = field(default_factory=dict)

    def with_state(self, **changes: Any) -> "ContainerRecord":
        """A copy with some state fields changed."""
        return dataclasses.replace(self, state=dataclasses.replace(self.state, **changes))


def to_json(record: ContainerRecord) -> dict[str, Any]:
    """A JSON-ready dict of the record."""
    return dataclasses.asdict(record)


# HostConfig's fields that are tuples of strings (JSON gives lists; old records lack them).
STRING_TUPLES = (
    "volumes_from", "extra_hosts", "dns", "dns_search", "dns_options", "cap_add", "cap_drop",
    "links", "ulimits", "sysctls", "group_add", "security_opts", "devices",
)  # fmt: skip


def from_json(data: dict[str, Any]) -> ContainerRecord:
    """The record back from `to_json`'s output."""
    cfg = data["config"]
    host = dict(data["host"])
    host["ports"] = _bindings(host["ports"])
    host["restart"] = RestartPolicy(**host["restart"])
    host["aliases"] = tuple(host.get("aliases") or ())
    host["mounts"] = mounts.from_json(host.get("mounts") or ())
    for key in STRING_TUPLES:
        host[key] = tuple(host.get(key) or ())
    host["extra_networks"] = tuple(
        NetworkJoin(j["name"], tuple(j.get("aliases") or ()), j.get("ip", ""))
        for j in host.get("extra_networks") or ()
    )
    state = dict(data["state"])
    state["extra_addresses"] = tuple(
        NetworkAddress(**a) for a in state.get("extra_addresses") or ()
    )
    state["ports"] = _bindings(state.get("ports", []))
    tuples: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    check = cfg.get("healthcheck") or {}
    tuples["healthcheck"] = Healthcheck(**{**check, "test": tuple(check.get("test") or ())})
    return ContainerRecord(
        id=data["id"],
        name=data["name"],
        created=data["created"],
        config=ContainerConfig(**tuples),
        host=HostConfig(**host),
        state=ContainerState(**state),
        resources=dict(data.get("resources", {})),
    )


def _bindings(items: list[dict[str, Any]]) -> tuple[PortBinding, ...]:
    return tuple(
        PortBinding(
            container_port=p["container_port"],
            proto=p["proto"],
            host_ip=p["host_ip"],
            host_port=p["host_port"],
            host_range=(p["host_range"][0], p["host_range"][1]) if p["host_range"] else None,
        )
        for p in items
    )
