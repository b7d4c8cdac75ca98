"""`create`/`run` flags turned into a container's configuration, validated in one place.

Everything Docker refuses before creating anything is refused here, with its message and 125,
so a bad flag never leaves a half-made container behind.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.containers import checks, health, hostopts, mounts, names, units
from engine.containers.errors import InvalidOptionError
from engine.containers.flags import ImageDefaults, RunFlags
from engine.containers.ports import PortBinding, parse_exposed, parse_publish
from engine.containers.record import ContainerConfig, HostConfig, NetworkJoin
from engine.containers.restart import parse_restart


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A validated request: the name (empty = pick one), config and host config."""

    name: str
    config: ContainerConfig
    host: HostConfig
    interactive: bool = False
    detach: bool = False
    warnings: tuple[str, ...] = field(default=())


def _env(items: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """`-e K=V`, or `-e K` to pass the caller's K (dropped when unset, as Docker does)."""
    out = []
    for item in items:
        key, sep, _ = item.partition("=")
        if not key:
            raise InvalidOptionError(f"invalid environment variable: {item}")
        if sep:
            out.append(item)
        elif key in environ:
            out.append(f"{key}={environ[key]}")
    return tuple(out)


def _labels(items: Sequence[str]) -> list[str]:
    """`--label k=v` (or a bare `k`, an empty value), the last of a key winning, as Docker."""
    merged: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidOptionError(f"invalid label: {item!r}")
        merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


def _merge_env(base: Sequence[str], extra: Sequence[str]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for item in (*base, *extra):
        key, _, _ = item.partition("=")
        merged[key] = item
    return tuple(merged.values())


def _log_opts(items: Sequence[str]) -> tuple[int, int]:
    """json-file's `--log-opt max-size=10m --log-opt max-file=3` with Docker's checks."""
    max_size, max_file = -1, 1
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidOptionError(f"invalid log opt format '{item}'")
        if key == "max-size":
            max_size = units.ram_in_bytes(value) if value != "-1" else -1
            if max_size == 0:
                raise InvalidOptionError("max-size must be a positive number")
        elif key == "max-file":
            try:
                max_file = int(value)
            except ValueError:
                raise InvalidOptionError(f"invalid max-file: {value}") from None
            if max_file < 1:
                raise InvalidOptionError("max-file cannot be less than 1")
        else:
            raise InvalidOptionError(f"unknown log opt '{key}' for json-file log driver")
    if max_file > 1 and max_size == -1:
        raise InvalidOptionError("max-file can only be used with max-size")
    return max_size, max_file


def build_request(
    flags: RunFlags,
    image: ImageDefaults,
    *,
    image_id: str = "",
    cpu_count: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunRequest:
    """Validate the flags against Docker's rules and merge them with the image's defaults."""
    environ = os.environ if environ is None else environ
    name = names.check_name(flags.name) if flags.name else ""
    restart = parse_restart(flags.restart)
    if flags.auto_remove and restart.name != "no":
        raise InvalidOptionError("Conflicting options: --restart and --rm")
    bindings: list[PortBinding] = []
    for spec in flags.publish:
        bindings.extend(parse_publish(spec))
    exposed = {f"{p}/{proto}" for p, proto in map(parse_exposed, image.exposed + flags.expose)}
    exposed |= {b.key() for b in bindings}
    if flags.publish_all:
        published = {b.key() for b in bindings}
        for key in sorted(exposed - published):
            port, proto = parse_exposed(key)
            bindings.append(PortBinding(port, proto))
    if flags.network in ("none", "host") and bindings:
        bindings = []  # Docker publishes nothing there and only warns
    entrypoint = image.entrypoint if flags.entrypoint is None else tuple(flags.entrypoint.split())
    # Docker drops the image's CMD when --entrypoint is given without a command.
    cmd = flags.command or (image.cmd if flags.entrypoint is None else ())
    if not entrypoint and not cmd:
        raise InvalidOptionError("No command specified")
    log_max_size, log_max_file = _log_opts(flags.log_opts)
    if flags.aliases and flags.network in ("bridge", "host", "none"):
        raise InvalidOptionError(
            "network-scoped alias is supported only for containers in user defined networks"
        )
    specs = mounts.parse_all(flags.volumes, flags.mounts, flags.tmpfs)
    wanted = [(t, mounts.FROM_VOLUME_FLAG) for t in flags.anonymous_volumes]
    for target, origin in wanted + [(t, mounts.FROM_IMAGE) for t in image.volumes]:
        # Docker gives each VOLUME of the image an anonymous volume unless a flag mounts there.
        path = target.rstrip("/") or "/"
        if path != "/" and all(s.target != path for s in specs):
            specs += (mounts.MountSpec("volume", path, origin=origin),)
    for ref in flags.volumes_from:
        mode = ref.partition(":")[2]  # a container's name has no colon
        if mode not in ("", "ro", "rw"):
            raise InvalidOptionError(f"invalid mode: {mode}")
    extra_hosts = tuple(":".join(hostopts.parse_add_host(h)) for h in flags.add_hosts)
    hostopts.check_capabilities(flags.cap_add, flags.cap_drop)
    for link in flags.links:
        checks.parse_link(link)
    checks.check_container_mode(flags)
    checks.check_networks(flags)
    if flags.links and flags.network in ("host", "none"):
        raise InvalidOptionError(
            f"conflicting options: {flags.network} type networking can't be used with links. "
            "This would result in undefined behavior"
        )
    memory = units.memory_limit(flags.memory) if flags.memory else 0
    stop_signal = units.parse_signal(flags.stop_signal or image.stop_signal or "SIGTERM")
    timeout = 10 if flags.stop_timeout is None else flags.stop_timeout
    config = ContainerConfig(
        image=flags.image,
        image_id=image_id,
        cmd=tuple(cmd),
        entrypoint=tuple(entrypoint),
        env=_merge_env(image.env, _env(flags.env, environ)),
        workdir=flags.workdir or image.workdir,
        user=flags.user or image.user,
        tty=flags.tty,
        open_stdin=flags.interactive,
        stop_signal=stop_signal,
        stop_timeout=timeout,
        exposed=tuple(sorted(exposed)),
        labels=tuple(_labels(flags.labels)),
        hostname=hostopts.check_hostname(flags.hostname),
        healthcheck=health.merge(
            image.healthcheck,
            cmd=flags.health_cmd,
            interval=flags.health_interval,
            timeout=flags.health_timeout,
            start_period=flags.health_start_period,
            retries=flags.health_retries,
            disabled=flags.no_healthcheck,
            given=flags.healthcheck,
        ),
        domainname=hostopts.check_hostname(flags.domainname),
    )
    host = HostConfig(
        network=flags.network,
        ports=tuple(bindings),
        publish_all=flags.publish_all,
        restart=restart,
        auto_remove=flags.auto_remove,
        runtime=flags.runtime,
        init=flags.init,
        memory=memory,
        nano_cpus=units.nano_cpus(flags.cpus, cpu_count or os.cpu_count() or 1)
        if flags.cpus
        else 0,
        pids_limit=units.pids_limit(flags.pids_limit) if flags.pids_limit else 0,
        log_max_size=log_max_size,
        log_max_file=log_max_file,
        aliases=tuple(dict.fromkeys(flags.aliases)),
        mounts=specs,
        read_only=flags.read_only,
        volumes_from=flags.volumes_from,
        extra_hosts=extra_hosts,
        dns=hostopts.check_dns(flags.dns),
        dns_search=flags.dns_search,
        dns_options=flags.dns_options,
        cap_add=flags.cap_add,
        cap_drop=flags.cap_drop,
        links=flags.links,
        ip=flags.ip,
        mac_address=hostopts.check_mac(flags.mac_address),
        extra_networks=tuple(NetworkJoin(n) for n in flags.extra_networks),
        **checks.privileges(flags, memory),
    )
    return RunRequest(name, config, host, flags.interactive, flags.detach)
