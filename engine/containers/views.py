"""What `ps`, `port` and `inspect` print for a record, in Docker's shapes."""

import datetime
import hashlib
from typing import Any

from engine.containers import netmode
from engine.containers.mounts import FROM_MOUNT_FLAG, FROM_TMPFS_FLAG, FROM_VOLUME_FLAG
from engine.containers.ports import PortBinding
from engine.containers.record import ContainerRecord, HostConfig
from engine.containers.status import StatusFacts, status_text
from engine.text import human_duration, table

__all__ = ["PS_HEADER", "inspect", "port_lines", "ports_text", "ps_row", "short_id", "table"]

PS_HEADER = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")


def short_id(container_id: str) -> str:
    """The 12-character id Docker prints."""
    return container_id[:12]


def command_text(record: ContainerRecord, width: int = 20) -> str:
    """ps's quoted COMMAND, cut to `width` characters with an ellipsis like Docker."""
    text = " ".join(record.config.entrypoint + record.config.cmd)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f'"{text}"'


def host_address(binding: PortBinding) -> str:
    """`0.0.0.0:8080`, `[::]:8080`."""
    ip = binding.host_ip or "0.0.0.0"
    return f"[{ip}]:{binding.host_port}" if ":" in ip else f"{ip}:{binding.host_port}"


def ports_text(bindings: tuple[PortBinding, ...]) -> str:
    """ps's PORTS: consecutive ports folded into ranges, `0.0.0.0:8000-8001->80-81/tcp`."""
    runs: list[list[PortBinding]] = []
    for b in sorted(bindings, key=lambda b: (b.host_ip, b.proto, b.container_port)):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and (last.host_ip, last.proto) == (b.host_ip, b.proto)
            and b.container_port == last.container_port + 1
            and b.host_port == last.host_port + 1
        ):
            runs[-1].append(b)
        else:
            runs.append([b])
    parts = []
    for run in runs:
        first, end = run[0], run[-1]
        ip = first.host_ip or "0.0.0.0"
        host = f"[{ip}]" if ":" in ip else ip
        if len(run) == 1:
            parts.append(f"{host}:{first.host_port}->{first.container_port}/{first.proto}")
        else:
            parts.append(
                f"{host}:{first.host_port}-{end.host_port}->"
                f"{first.container_port}-{end.container_port}/{first.proto}"
            )
    return ", ".join(parts)


def ps_row(record: ContainerRecord, now: float) -> tuple[str, ...]:
    """One `ps` row."""
    state = record.state
    facts = StatusFacts(
        state.status, state.started_at, state.finished_at, state.exit_code, state.health
    )
    running = state.status in ("running", "paused")
    return (
        short_id(record.id),
        record.config.image,
        command_text(record),
        f"{human_duration(now - record.created)} ago",
        status_text(facts, now),
        ports_text(state.ports) if running else "",
        record.name,
    )


def port_lines(record: ContainerRecord, which: str | None = None) -> list[str]:
    """`docker port NAME [PORT[/PROTO]]`: every mapping, or the host addresses of one."""
    bindings = record.state.ports if record.state.status in ("running", "paused") else ()
    if which is None:
        return [f"{b.key()} -> {host_address(b)}" for b in bindings]
    key = which if "/" in which else f"{which}/tcp"
    return [host_address(b) for b in bindings if b.key() == key]


def rfc3339(seconds: float) -> str:
    """Docker's inspect timestamps; zero time when never set."""
    if not seconds:
        return "0001-01-01T00:00:00Z"
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def mounts(record: ContainerRecord, volumes_dir: str) -> list[dict[str, Any]]:
    """Docker's `Mounts`: each bind, volume and tmpfs with where it comes from; a volume's
    data is `volumes_dir/NAME/_data`."""
    out: list[dict[str, Any]] = []
    for m in record.host.mounts:
        entry: dict[str, Any] = {"Type": m.type}
        if m.type == "volume":
            entry |= {"Name": m.source, "Source": f"{volumes_dir}/{m.source}/_data"}
        else:
            entry["Source"] = m.source
        entry |= {"Destination": m.target, "Mode": m.mode_text(), "RW": not m.readonly}
        if m.type == "volume":
            entry["Driver"] = "local"
        entry["Propagation"] = (m.propagation or "rprivate") if m.type == "bind" else ""
        out.append(entry)
    return out


def network_id(name: str) -> str:
    """Networks are known by name here; the id clients expect is derived from it, stably."""
    return hashlib.sha256(f"pyengine-network:{name}".encode()).hexdigest()


def networks(record: ContainerRecord) -> dict[str, Any]:
    """`NetworkSettings.Networks`: each network it is on, its address and gateway there while
    it runs. On a user network it answers to its aliases and its short id too, which is what
    tells compose it is connected as it wants (no disconnect and reconnect)."""
    out: dict[str, Any] = {}
    for network in netmode.networks_of(record):
        if network == "none" or netmode.joined_container(network):
            continue
        user = network not in ("bridge", "host")
        aliases = [*netmode.aliases_on(record, network), record.id[:12]] if user else []
        gateway = netmode.gateway_on(record, network)
        out[network] = {"IPAddress": netmode.address_on(record, network), "Gateway": gateway,
                        "NetworkID": network_id(network), "Aliases": aliases or None}  # fmt: skip
    return out


def _links(record: ContainerRecord) -> list[str] | None:
    """Docker's "/target:/self/alias", the target named by id (its name may change)."""
    pairs = (item.partition(":") for item in record.host.links)
    return [f"/{target}:/{record.name}/{alias}" for target, _, alias in pairs] or None


def _host_mounts(host: HostConfig) -> dict[str, Any]:
    """HostConfig's Binds (`-v`), Mounts (`--mount`), Tmpfs, VolumesFrom and ReadonlyRootfs."""
    binds, mounted, tmpfs = [], [], {}
    for m in host.mounts:
        if m.origin == FROM_VOLUME_FLAG and not m.anonymous:
            mode = m.mode_text()
            binds.append(f"{m.source}:{m.target}" + (f":{mode}" if mode else ""))
        elif m.origin == FROM_MOUNT_FLAG:
            item: dict[str, Any] = {"Type": m.type, "Target": m.target}
            if m.source and not m.anonymous:
                item["Source"] = m.source
            if m.readonly:
                item["ReadOnly"] = True
            mounted.append(item)
        elif m.origin == FROM_TMPFS_FLAG:
            tmpfs[m.target] = ",".join(m.tmpfs_options)
    return {
        "Binds": binds or None,
        "Mounts": mounted or None,
        "Tmpfs": tmpfs or None,
        "VolumesFrom": list(host.volumes_from) or None,
        "ReadonlyRootfs": host.read_only,
    }


def inspect(
    record: ContainerRecord,
    log_path: str,
    proxy: dict[str, object] | None = None,
    volumes_dir: str = "",
    health: dict[str, object] | None = None,
) -> dict[str, Any]:
    """The parts of `docker inspect` users script against, under Docker's keys; `proxy` (our
    own key, `NetworkSettings.PortProxy`) is the state of the proxy serving its ports."""
    st, cfg, host = record.state, record.config, record.host
    ports: dict[str, list[dict[str, str]]] = {}
    for b in st.ports:
        ports.setdefault(b.key(), []).append(
            {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)}
        )
    return {
        "Id": record.id,
        "Created": rfc3339(record.created),
        "Path": (cfg.entrypoint + cfg.cmd)[0] if cfg.entrypoint + cfg.cmd else "",
        "Args": list((cfg.entrypoint + cfg.cmd)[1:]),
        "State": {
            "Status": st.status,
            "Running": st.status in ("running", "paused"),
            "Paused": st.status == "paused",
            "Restarting": st.status == "restarting",
            "OOMKilled": st.oom_killed,
            "Dead": st.status == "dead",
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.finished_at),
            **({"Health": health} if health is not None else {}),
        },
        "Image": cfg.image_id,
        "Name": "/" + record.name,
        "RestartCount": st.restart_count,
        "LogPath": log_path,
        "HostConfig": {
            "NetworkMode": host.network,
            "RestartPolicy": {
                "Name": host.restart.name,
                "MaximumRetryCount": host.restart.max_retries,
            },
            "AutoRemove": host.auto_remove,
            "Runtime": host.runtime,
            "Init": host.init,
            "Memory": host.memory,
            "NanoCpus": host.nano_cpus,
            "PidsLimit": host.pids_limit or None,
            "PortBindings": {
                b.key(): [{"HostIp": b.host_ip, "HostPort": str(b.host_port or "")}]
                for b in host.ports
            },
            "PublishAllPorts": host.publish_all,
            "LogConfig": {"Type": "json-file", "Config": _log_options(host)},
            **_host_mounts(host),
            "ExtraHosts": list(host.extra_hosts) or None,
            "Dns": list(host.dns),
            "DnsSearch": list(host.dns_search),
            "DnsOptions": list(host.dns_options),
            "CapAdd": list(host.cap_add) or None,
            "CapDrop": list(host.cap_drop) or None,
            "Links": _links(record),
        },
        "Mounts": mounts(record, volumes_dir),
        "Config": {
            "Hostname": cfg.hostname or record.id[:12],
            "Domainname": cfg.domainname,
            "MacAddress": host.mac_address,
            "Image": cfg.image,
            "Cmd": list(cfg.cmd),
            "Entrypoint": list(cfg.entrypoint) or None,
            "Env": list(cfg.env),
            "WorkingDir": cfg.workdir,
            "User": cfg.user,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StopSignal": str(cfg.stop_signal),
            "StopTimeout": cfg.stop_timeout,
            "ExposedPorts": {p: {} for p in cfg.exposed},
            "Labels": labels(record),
            "Volumes": {m.target: {} for m in host.mounts if m.anonymous} or None,
            **({"Healthcheck": cfg.healthcheck.to_docker()} if cfg.healthcheck.test else {}),
        },
        "NetworkSettings": {
            "IPAddress": st.ip_address,
            "Gateway": st.gateway,
            "Networks": networks(record),
            "Ports": ports,
            **({} if proxy is None else {"PortProxy": {k.title(): v for k, v in proxy.items()}}),
        },
    }


def _log_options(host: HostConfig) -> dict[str, str]:
    """The json-file options as `--log-opt` spelled them (Docker shows what was given)."""
    options = {}
    if host.log_max_size > 0:
        options["max-size"] = str(host.log_max_size)
    if host.log_max_file > 1:
        options["max-file"] = str(host.log_max_file)
    return options


def label_matches(have: dict[str, str], wanted: list[str]) -> bool:
    """Docker's label filter: `key` (present) or `key=value`, every one of them."""
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in have or (sep and have[key] != value):
            return False
    return True


def labels(record: ContainerRecord) -> dict[str, str]:
    """The container's labels as Docker shows them."""
    return dict(item.partition("=")[::2] for item in record.config.labels)
