"""Docker's JSON shapes to the engine's requests and back.

A create body becomes the same `RunFlags` the CLI builds from its flags, so both adapters
go through one validation (`containers.request.build_request`) and make the same record.
"""

import csv
import io
from typing import Any

from engine.api.http import HttpError
from engine.containers.flags import RunFlags
from engine.containers.health import Healthcheck, from_docker
from engine.containers.record import ContainerRecord
from engine.containers.status import StatusFacts
from engine.containers.status import status_text as text_of
from engine.containers.views import labels, mounts, networks
from engine.lifecycle.update import UpdateRequest


def strings(value: Any, what: str) -> tuple[str, ...]:
    """A JSON string list (or one string, as Cmd may be), else 400 naming the field."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise HttpError(400, f"invalid {what}: expected a list of strings")


def _typed(section: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = section.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise HttpError(400, f"invalid {key}: wrong type {type(value).__name__}")
    return value


def _publish(bindings: Any) -> tuple[str, ...]:
    """HostConfig.PortBindings as `-p` values: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}."""
    if not bindings:
        return ()
    if not isinstance(bindings, dict):
        raise HttpError(400, "invalid PortBindings: expected an object")
    specs = []
    for key, hosts in bindings.items():
        port, _, proto = str(key).partition("/")
        for host in hosts or [{}]:
            if not isinstance(host, dict):
                raise HttpError(400, f"invalid PortBindings for {key}")
            ip, host_port = host.get("HostIp") or "", host.get("HostPort") or ""
            ip = f"[{ip}]" if ":" in ip else ip
            head = f"{ip}:{host_port}:" if ip else (f"{host_port}:" if host_port else "")
            specs.append(f"{head}{port}/{proto or 'tcp'}")
    return tuple(specs)


def _restart(policy: Any) -> str:
    if not policy:
        return "no"
    if not isinstance(policy, dict):
        raise HttpError(400, "invalid RestartPolicy: expected an object")
    name = policy.get("Name") or "no"
    retries = policy.get("MaximumRetryCount") or 0
    return f"{name}:{retries}" if name == "on-failure" and retries else str(name)


def _mount_flag(item: Any) -> str:
    """One HostConfig.Mounts object as the `--mount` value the CLI would pass (CSV-quoted:
    a path may hold a comma)."""
    if not isinstance(item, dict):
        raise HttpError(400, "invalid Mounts: expected a list of objects")
    fields = [f"type={item.get('Type') or 'volume'}", f"target={item.get('Target') or ''}"]
    if item.get("Source"):
        fields.append(f"source={item['Source']}")
    if item.get("ReadOnly"):
        fields.append("readonly")
    bind = item.get("BindOptions") or {}
    if isinstance(bind, dict) and bind.get("Propagation"):
        fields.append(f"bind-propagation={bind['Propagation']}")
    volume = item.get("VolumeOptions") or {}
    if isinstance(volume, dict):
        if volume.get("NoCopy"):
            fields.append("volume-nocopy")
        fields += [f"volume-label={k}={v}" for k, v in (volume.get("Labels") or {}).items()]
        driver = volume.get("DriverConfig") or {}
        if isinstance(driver, dict):
            if driver.get("Name"):
                fields.append(f"volume-driver={driver['Name']}")
            fields += [f"volume-opt={k}={v}" for k, v in (driver.get("Options") or {}).items()]
    tmpfs = item.get("TmpfsOptions") or {}
    if isinstance(tmpfs, dict):
        if tmpfs.get("SizeBytes"):
            fields.append(f"tmpfs-size={int(tmpfs['SizeBytes'])}")
        if tmpfs.get("Mode"):
            fields.append(f"tmpfs-mode={int(tmpfs['Mode']):o}")
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _ulimit(item: Any) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
        raise HttpError(400, "invalid Ulimits: expected objects with Name, Soft and Hard")
    return f"{item['Name']}={int(item.get('Soft', 0))}:{int(item.get('Hard', 0))}"


def _device(item: Any) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("PathOnHost"), str):
        raise HttpError(400, "invalid Devices: expected objects with PathOnHost")
    inside = item.get("PathInContainer") or item["PathOnHost"]
    return f"{item['PathOnHost']}:{inside}:{item.get('CgroupPermissions') or 'rwm'}"


def _healthcheck(value: Any) -> Healthcheck | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HttpError(400, "invalid Healthcheck: expected an object")
    return from_docker(value)


def _link(item: str) -> str:
    name, _, alias = item.partition(":")
    return f"{name.lstrip('/')}:{alias.rsplit('/', 1)[-1]}" if alias else name.lstrip("/")


def _tmpfs(value: Any) -> tuple[str, ...]:
    """HostConfig.Tmpfs, {"/run": "size=64m"}, as `--tmpfs` values."""
    if not value:
        return ()
    if not isinstance(value, dict):
        raise HttpError(400, "invalid Tmpfs: expected an object")
    return tuple(f"{path}:{opts}" if opts else str(path) for path, opts in value.items())


def create_flags(body: Any, name: str) -> RunFlags:
    """POST /containers/create: Config at the top level, HostConfig inside it."""
    if not isinstance(body, dict):
        raise HttpError(400, "invalid container config: expected a JSON object")
    host = body.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise HttpError(400, "invalid HostConfig: expected an object")
    image = _typed(body, "Image", str, "")
    if not image:
        raise HttpError(400, "config: Image is required")
    entrypoint = strings(body.get("Entrypoint"), "Entrypoint")
    network = _network(_typed(host, "NetworkMode", str, ""))
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict):
        raise HttpError(400, "invalid NetworkingConfig.EndpointsConfig: expected an object")
    if network == "bridge" and len(endpoints) == 1 and not host.get("NetworkMode"):
        network = next(iter(endpoints))  # only named in NetworkingConfig
    endpoint = endpoints.get(network) or {}
    nano_cpus = _typed(host, "NanoCpus", int, 0)
    stop_timeout = body.get("StopTimeout")
    return RunFlags(
        image=image,
        command=strings(body.get("Cmd"), "Cmd"),
        name=name,
        # A bare `K` was the client's to resolve (the docker CLI does): nothing to pass on.
        env=tuple(e for e in strings(body.get("Env"), "Env") if "=" in e),
        workdir=_typed(body, "WorkingDir", str, ""),
        user=_typed(body, "User", str, ""),
        entrypoint=" ".join(entrypoint) if body.get("Entrypoint") is not None else None,
        tty=_typed(body, "Tty", bool, False),
        interactive=_typed(body, "OpenStdin", bool, False),
        detach=True,
        auto_remove=_typed(host, "AutoRemove", bool, False),
        publish=_publish(host.get("PortBindings")),
        publish_all=_typed(host, "PublishAllPorts", bool, False),
        expose=tuple(_typed(body, "ExposedPorts", dict, {})),
        network=network,
        labels=tuple(f"{k}={v}" for k, v in _typed(body, "Labels", dict, {}).items()),
        aliases=strings(endpoint.get("Aliases") if isinstance(endpoint, dict) else None, "Aliases"),
        restart=_restart(host.get("RestartPolicy")),
        init=bool(_typed(host, "Init", bool, False)),
        memory=str(_typed(host, "Memory", int, 0) or ""),
        cpus=str(nano_cpus / 1e9) if nano_cpus else "",
        pids_limit=_typed(host, "PidsLimit", int, 0) or 0,
        stop_signal=_typed(body, "StopSignal", str, ""),
        stop_timeout=stop_timeout if isinstance(stop_timeout, int) else None,
        # Config.Volumes ({"/data": {}}) asks for anonymous volumes, as `-v /data` does,
        # where nothing else mounts.
        volumes=strings(host.get("Binds"), "Binds"),
        anonymous_volumes=tuple(_typed(body, "Volumes", dict, {})),
        mounts=tuple(_mount_flag(m) for m in _typed(host, "Mounts", list, [])),
        tmpfs=_tmpfs(host.get("Tmpfs")),
        read_only=_typed(host, "ReadonlyRootfs", bool, False),
        volumes_from=strings(host.get("VolumesFrom"), "VolumesFrom"),
        hostname=_typed(body, "Hostname", str, ""),
        healthcheck=_healthcheck(body.get("Healthcheck")),
        domainname=_typed(body, "Domainname", str, ""),
        mac_address=_typed(body, "MacAddress", str, ""),
        add_hosts=strings(host.get("ExtraHosts"), "ExtraHosts"),
        dns=strings(host.get("Dns"), "Dns"),
        dns_search=strings(host.get("DnsSearch"), "DnsSearch"),
        dns_options=strings(host.get("DnsOptions"), "DnsOptions"),
        cap_add=strings(host.get("CapAdd"), "CapAdd"),
        cap_drop=strings(host.get("CapDrop"), "CapDrop"),
        # "name:alias", or inspect's "/name:/self/alias" sent back by a client.
        links=tuple(_link(item) for item in strings(host.get("Links"), "Links")),
        ulimits=tuple(_ulimit(u) for u in _typed(host, "Ulimits", list, [])),
        shm_size=str(_typed(host, "ShmSize", int, 0) or ""),
        sysctls=tuple(f"{k}={v}" for k, v in _typed(host, "Sysctls", dict, {}).items()),
        group_add=strings(host.get("GroupAdd"), "GroupAdd"),
        memory_swap=str(_typed(host, "MemorySwap", int, 0) or ""),
        cpu_shares=_typed(host, "CpuShares", int, 0),
        cpuset_cpus=_typed(host, "CpusetCpus", str, ""),
        oom_kill_disable=bool(_typed(host, "OomKillDisable", bool, False)),
        pid_mode=_typed(host, "PidMode", str, ""),
        ipc_mode=_typed(host, "IpcMode", str, ""),
        privileged=_typed(host, "Privileged", bool, False),
        security_opts=strings(host.get("SecurityOpt"), "SecurityOpt"),
        devices=tuple(_device(d) for d in _typed(host, "Devices", list, [])),
    )


def update_request(body: dict[str, Any]) -> UpdateRequest:
    """POST /containers/{id}/update: the resource fields Docker takes (0 or absent: unchanged)."""
    nano = _typed(body, "NanoCpus", int, 0)
    policy = body.get("RestartPolicy")
    return UpdateRequest(
        memory=str(_typed(body, "Memory", int, 0) or ""),
        memory_swap=str(_typed(body, "MemorySwap", int, 0) or ""),
        cpus=str(nano / 1e9) if nano else "",
        cpu_shares=_typed(body, "CpuShares", int, 0) or None,
        cpuset_cpus=_typed(body, "CpusetCpus", str, "") or None,
        pids_limit=_typed(body, "PidsLimit", int, 0) or None,
        restart=_restart(policy) if policy and policy.get("Name") else "",
    )


def _network(mode: str) -> str:
    return "bridge" if mode in ("", "default") else mode


def list_entry(record: ContainerRecord, now: float, volumes_dir: str = "") -> dict[str, Any]:
    """One container as GET /containers/json lists it."""
    st, cfg = record.state, record.config
    ports = [
        {
            **({"IP": b.host_ip or "0.0.0.0"} if b.host_port else {}),
            "PrivatePort": b.container_port,
            **({"PublicPort": b.host_port} if b.host_port else {}),
            "Type": b.proto,
        }
        for b in st.ports
    ]
    return {
        "Id": record.id,
        "Names": ["/" + record.name],
        "Image": cfg.image,
        "ImageID": cfg.image_id,
        "Command": " ".join(record.config.entrypoint + record.config.cmd),
        "Created": int(record.created),
        "Ports": ports,
        "Labels": labels(record),
        "State": st.status,
        "Status": status_text(record, now),
        "HostConfig": {"NetworkMode": record.host.network},
        "NetworkSettings": {"Networks": networks(record)},
        "Mounts": mounts(record, volumes_dir),
    }


def status_text(record: ContainerRecord, now: float) -> str:
    """The `STATUS` column, as `pyengine ps` shows it."""
    st = record.state
    facts = StatusFacts(st.status, st.started_at, st.finished_at, st.exit_code, st.health)
    return text_of(facts, now)
