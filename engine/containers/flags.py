"""What `create`/`run` receive: the raw flag values (from the CLI's options or the API's JSON)
and what an image contributes. `request.build_request` checks and merges them."""

from dataclasses import dataclass, field

from engine.containers.health import Healthcheck


@dataclass(frozen=True, slots=True)
class RunFlags:
    """The raw values of `pyengine create/run` flags, as the CLI received them."""

    image: str
    command: tuple[str, ...] = ()
    name: str = ""
    env: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    entrypoint: str | None = None
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    auto_remove: bool = False
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    expose: tuple[str, ...] = ()
    network: str = "bridge"
    restart: str = "no"
    runtime: str = "runc"
    init: bool = False
    memory: str = ""
    cpus: str = ""
    pids_limit: int = 0
    stop_signal: str = ""
    stop_timeout: int | None = None
    log_opts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()  # -v
    mounts: tuple[str, ...] = ()  # --mount
    tmpfs: tuple[str, ...] = ()  # --tmpfs
    read_only: bool = False
    volumes_from: tuple[str, ...] = ()  # CONTAINER[:ro|rw]
    # The API's Config.Volumes: anonymous volumes where no other mount is (docker-py sends
    # every bind's target here too).
    anonymous_volumes: tuple[str, ...] = ()
    hostname: str = ""
    add_hosts: tuple[str, ...] = ()  # NAME:IP
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # NAME[:ALIAS]
    extra_networks: tuple[str, ...] = ()  # --network given again
    ip: str = ""
    mac_address: str = ""
    domainname: str = ""
    health_cmd: str = ""
    health_interval: str = ""
    health_timeout: str = ""
    health_start_period: str = ""
    health_retries: int = 0
    no_healthcheck: bool = False
    healthcheck: Healthcheck | None = None  # the API's Config.Healthcheck, whole
    ulimits: tuple[str, ...] = ()  # name=soft[:hard]
    shm_size: str = ""
    sysctls: tuple[str, ...] = ()  # key=value
    group_add: tuple[str, ...] = ()
    memory_swap: str = ""
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    oom_kill_disable: bool = False
    pid_mode: str = ""
    ipc_mode: str = ""
    privileged: bool = False
    security_opts: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageDefaults:
    """What an image's config contributes when the flags do not say."""

    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    exposed: tuple[str, ...] = ()
    stop_signal: str = ""
    volumes: tuple[str, ...] = ()  # the image's VOLUMEs: an anonymous volume each
    healthcheck: Healthcheck = field(default_factory=Healthcheck)
