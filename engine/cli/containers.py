"""Container lifecycle commands: create, run, start, stop, kill, restart, pause, unpause, rm, wait.

Flags follow `docker` (moby cli/command/container); usage errors exit 125 like Docker's.
"""

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from engine.cli.attach import DEFAULT_DETACH_KEYS, attach_until_exit, parse_detach_keys
from engine.cli.context import config, open_engine
from engine.cli.exitcodes import CommandRefusedError, RunFailedError
from engine.containers.errors import InvalidOptionError, NoSuchContainerError
from engine.containers.flags import RunFlags
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.units import parse_signal
from engine.errors import EngineError
from engine.lifecycle import filesystem
from engine.lifecycle.attach import log_size
from engine.lifecycle.rename import rename
from engine.lifecycle.update import UpdateRequest, update

# Options end at the image name: `run busybox ls -l` passes `-l` to ls.
COMMAND_LINE = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


def _run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", default="", help="Assign a name to the container"),
        click.option("-e", "--env", multiple=True, help="Set environment variables"),
        click.option("-w", "--workdir", default="", help="Working directory inside the container"),
        click.option(
            "-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])"
        ),
        click.option(
            "--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"
        ),
        click.option(
            "-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached"
        ),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY"),
        click.option(
            "-p", "--publish", multiple=True, help="Publish a container's port(s) to the host"
        ),
        click.option(
            "-P", "--publish-all", is_flag=True, help="Publish all exposed ports to random ports"
        ),
        click.option("--expose", multiple=True, help="Expose a port or a range of ports"),
        click.option("-l", "--label", multiple=True, help="Set meta data on a container"),
        click.option(
            "--network-alias", multiple=True, help="Add network-scoped alias for the container"
        ),
        click.option(
            "--network",
            "--net",
            multiple=True,
            help="Connect a container to a network (again: to several, the first is its own)",
        ),
        click.option("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)"),
        click.option("--mac-address", default="", help="Container MAC address"),
        click.option("--domainname", default="", help="Container NIS domain name"),
        click.option(
            "--restart", default="no", help="Restart policy to apply when a container exits"
        ),
        click.option("--runtime", default="runc", help="Runtime to use for this container"),
        click.option(
            "--init",
            is_flag=True,
            help="Run an init inside the container that forwards signals and reaps processes",
        ),
        click.option("-m", "--memory", default="", help="Memory limit"),
        click.option("--cpus", default="", help="Number of CPUs"),
        click.option(
            "--pids-limit", type=int, default=0, help="Tune container pids limit (-1 for unlimited)"
        ),
        click.option("-v", "--volume", multiple=True, help="Bind mount a volume"),
        click.option("--mount", multiple=True, help="Attach a filesystem mount to the container"),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs directory"),
        click.option(
            "--read-only", is_flag=True, help="Mount the container's root filesystem as read only"
        ),
        click.option(
            "--volumes-from", multiple=True, help="Mount volumes from the specified container(s)"
        ),
        click.option("-h", "--hostname", default="", help="Container host name"),
        click.option("--add-host", multiple=True, help="Add a custom host-to-IP mapping (host:ip)"),
        click.option("--dns", multiple=True, help="Set custom DNS servers"),
        click.option("--dns-search", multiple=True, help="Set custom DNS search domains"),
        click.option("--dns-option", multiple=True, help="Set DNS options"),
        click.option("--link", multiple=True, help="Add link to another container"),
        click.option("--ulimit", multiple=True, help="Ulimit options (name=soft[:hard])"),
        click.option("--shm-size", default="", help="Size of /dev/shm"),
        click.option("--sysctl", multiple=True, help="Sysctl options"),
        click.option("--group-add", multiple=True, help="Add additional groups to join"),
        click.option("--memory-swap", default="", help="Memory+swap limit: '-1' unlimited"),
        click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (weight)"),
        click.option("--cpuset-cpus", default="", help="CPUs in which to allow execution"),
        click.option("--oom-kill-disable", is_flag=True, help="Disable OOM Killer"),
        click.option("--pid", "pid_mode", default="", help="PID namespace to use"),
        click.option("--ipc", "ipc_mode", default="", help="IPC mode to use"),
        click.option("--privileged", is_flag=True, help="Give extended privileges"),
        click.option("--security-opt", multiple=True, help="Security Options"),
        click.option("--device", multiple=True, help="Add a host device to the container"),
        click.option("--cap-add", multiple=True, help="Add Linux capabilities"),
        click.option("--cap-drop", multiple=True, help="Drop Linux capabilities"),
        click.option("--health-cmd", default="", help="Command to run to check health"),
        click.option("--health-interval", default="", help="Time between running the check"),
        click.option("--health-timeout", default="", help="Maximum time to allow one check"),
        click.option(
            "--health-start-period", default="", help="Start period for the container to initialize"
        ),
        click.option(
            "--health-retries",
            type=int,
            default=0,
            help="Consecutive failures needed to report unhealthy",
        ),
        click.option(
            "--no-healthcheck", is_flag=True, help="Disable any container-specified HEALTHCHECK"
        ),
        click.option("--stop-signal", default="", help="Signal to stop the container"),
        click.option(
            "--log-opt", multiple=True, help="json-file options: max-size=SIZE, max-file=N"
        ),
        click.option(
            "--stop-timeout",
            type=int,
            default=None,
            help="Timeout (in seconds) to stop a container",
        ),
        click.option(
            "--rm",
            "auto_remove",
            is_flag=True,
            help="Automatically remove the container when it exits",
        ),
        click.argument("image"),
        click.argument("command", nargs=-1, type=click.UNPROCESSED),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _flags(values: dict[str, Any], detach: bool = True) -> RunFlags:
    return RunFlags(
        image=values["image"],
        command=tuple(values["command"]),
        name=values["name"],
        env=tuple(values["env"]),
        workdir=values["workdir"],
        user=values["user"],
        entrypoint=values["entrypoint"],
        tty=values["tty"],
        interactive=values["interactive"],
        detach=detach,
        auto_remove=values["auto_remove"],
        publish=tuple(values["publish"]),
        publish_all=values["publish_all"],
        expose=tuple(values["expose"]),
        network=(values["network"] or ("bridge",))[0],
        extra_networks=tuple(values["network"][1:]),
        ip=values["ip"],
        mac_address=values["mac_address"],
        health_cmd=values["health_cmd"],
        health_interval=values["health_interval"],
        health_timeout=values["health_timeout"],
        health_start_period=values["health_start_period"],
        health_retries=values["health_retries"],
        no_healthcheck=values["no_healthcheck"],
        domainname=values["domainname"],
        restart=values["restart"],
        runtime=values["runtime"],
        init=values["init"],
        memory=values["memory"],
        cpus=values["cpus"],
        pids_limit=values["pids_limit"],
        log_opts=tuple(values["log_opt"]),
        stop_signal=values["stop_signal"],
        stop_timeout=values["stop_timeout"],
        labels=tuple(values["label"]),
        aliases=tuple(values["network_alias"]),
        volumes=tuple(values["volume"]),
        mounts=tuple(values["mount"]),
        tmpfs=tuple(values["tmpfs"]),
        read_only=values["read_only"],
        volumes_from=tuple(values["volumes_from"]),
        hostname=values["hostname"],
        add_hosts=tuple(values["add_host"]),
        dns=tuple(values["dns"]),
        dns_search=tuple(values["dns_search"]),
        dns_options=tuple(values["dns_option"]),
        cap_add=tuple(values["cap_add"]),
        cap_drop=tuple(values["cap_drop"]),
        links=tuple(values["link"]),
        ulimits=tuple(values["ulimit"]),
        shm_size=values["shm_size"],
        sysctls=tuple(values["sysctl"]),
        group_add=tuple(values["group_add"]),
        memory_swap=values["memory_swap"],
        cpu_shares=values["cpu_shares"],
        cpuset_cpus=values["cpuset_cpus"],
        oom_kill_disable=values["oom_kill_disable"],
        pid_mode=values["pid_mode"],
        ipc_mode=values["ipc_mode"],
        privileged=values["privileged"],
        security_opts=tuple(values["security_opt"]),
        devices=tuple(values["device"]),
    )


@contextlib.contextmanager
def _as_daemon_error() -> Iterator[None]:
    """`docker create`/`run` exit 125 on any failure of the daemon (a name conflict included);
    126 and 127 stay the command's."""
    try:
        yield
    except EngineError as exc:
        raise RunFailedError(exc) from exc


def _create(values: dict[str, Any], detach: bool = True) -> ContainerRecord:
    """Check what Docker checks at create (the runtime name), then create."""
    with _as_daemon_error():
        config().runtime(values["runtime"])
        return open_engine().create(_flags(values, detach))


@click.command("create", context_settings=COMMAND_LINE)
@_run_options
def create(**values: Any) -> None:
    """Create a new container."""
    click.echo(_create(values).id)


def _sig_proxy_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--sig-proxy",
        type=click.BOOL,
        default=True,
        is_flag=False,
        flag_value=True,
        help="Proxy received signals to the process (default true)",
    )(f)


def _detach_keys_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--detach-keys",
        default=DEFAULT_DETACH_KEYS,
        help="Override the key sequence for detaching a container",
    )(f)


def _exit_attached(code: int | None) -> None:
    """The attached container's code; 0 when the detach keys left it running (as docker)."""
    raise click.exceptions.Exit(0 if code is None else code)


@click.command("run", context_settings=COMMAND_LINE)
@click.option(
    "-d", "--detach", is_flag=True, help="Run container in background and print container ID"
)
@_sig_proxy_option
@_detach_keys_option
@_run_options
def run(detach: bool, sig_proxy: bool, detach_keys: str, **values: Any) -> None:
    """Create and run a new container from an image."""
    engine = open_engine()
    record = _create(values, detach)
    # docker run exits 125 when the start fails (126 and 127 kept); --rm removes it then.
    with _as_daemon_error():
        record = engine.start(record.id, _terminal_size() if values["tty"] else None)
    if detach:
        click.echo(record.id)
        return
    code = attach_until_exit(
        engine, record, stdin=values["interactive"], sig_proxy=sig_proxy, detach_keys=detach_keys
    )
    if code is None:
        raise click.exceptions.Exit(0)  # detached: it runs on (--rm removes it when it exits)
    if record.host.auto_remove:
        # docker run --rm returns once the container is gone (the CLI waits for "removed"):
        # remove it here unless the exit command got there first.
        with contextlib.suppress(NoSuchContainerError):
            engine.remove(record.id, force=True)
    raise click.exceptions.Exit(code)


def _each(refs: tuple[str, ...], action: Callable[[str], object]) -> None:
    """Docker's multi-container commands: go on after a failure, print what succeeded, exit 1."""
    failed = False
    for ref in refs:
        try:
            action(ref)
        except EngineError as exc:
            click.echo(f"Error response from daemon: {exc}", err=True)
            failed = True
        else:
            click.echo(ref)
    if failed:
        raise click.exceptions.Exit(1)


@click.command("start")
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@_detach_keys_option
@click.argument("containers", nargs=-1, required=True)
def start(attach: bool, interactive: bool, detach_keys: str, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    if not (attach or interactive):
        _each(containers, open_engine().start)
        return
    if len(containers) > 1:
        raise CommandRefusedError("you cannot start and attach multiple containers at once")
    engine = open_engine()
    with _as_refusal():
        parse_detach_keys(detach_keys)
        record = engine.store.find(containers[0])
        offset = log_size(engine.log_path(record.id))  # this start's output, not the last
        size = _terminal_size() if record.config.tty else None
        record = engine.start(record.id, size)
    stdin = interactive and record.config.open_stdin
    _exit_attached(attach_until_exit(engine, record, stdin, offset=offset, detach_keys=detach_keys))


@click.command("attach")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@_sig_proxy_option
@_detach_keys_option
@click.argument("container")
def attach(no_stdin: bool, sig_proxy: bool, detach_keys: str, container: str) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    engine = open_engine()
    with _as_refusal():
        parse_detach_keys(detach_keys)
    with _as_refusal(), engine.locked(container) as record:
        if record.state.status not in LIVE:
            raise CommandRefusedError("You cannot attach to a stopped container, start it first")
        if record.state.status == "paused":
            raise CommandRefusedError("You cannot attach to a paused container, unpause it first")
        offset = log_size(engine.log_path(record.id))
    size = _terminal_size() if record.config.tty else None
    if size is not None:
        with contextlib.suppress(EngineError):
            engine.tasks.resize(record.id, *size)
    stdin = record.config.open_stdin and not no_stdin
    code = attach_until_exit(
        engine, record, stdin, sig_proxy=sig_proxy, offset=offset, detach_keys=detach_keys
    )
    _exit_attached(code)


def _terminal_size() -> tuple[int, int] | None:
    if not os.isatty(0):
        return None
    terminal = os.get_terminal_size(0)
    return terminal.lines, terminal.columns


@contextlib.contextmanager
def _as_refusal() -> Iterator[None]:
    """docker start -a and attach exit 1 when the daemon refuses."""
    try:
        yield
    except EngineError as exc:
        raise CommandRefusedError(str(exc)) from exc


@click.command("stop")
@click.option(
    "-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before killing"
)
@click.option("-s", "--signal", "sig", default="", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
def stop(timeout: int | None, sig: str, containers: tuple[str, ...]) -> None:
    """Stop one or more running containers."""
    number = parse_signal(sig) if sig else None
    _each(containers, lambda ref: open_engine().stop(ref, timeout, number))


@click.command("kill")
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
def kill(sig: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    number = parse_signal(sig)
    _each(containers, lambda ref: open_engine().kill(ref, number))


@click.command("restart")
@click.option(
    "-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before killing"
)
@click.argument("containers", nargs=-1, required=True)
def restart(timeout: int | None, containers: tuple[str, ...]) -> None:
    """Restart one or more containers."""
    _each(containers, lambda ref: open_engine().restart(ref, timeout))


@click.command("pause")
@click.argument("containers", nargs=-1, required=True)
def pause(containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    _each(containers, open_engine().pause)


@click.command("unpause")
@click.argument("containers", nargs=-1, required=True)
def unpause(containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    _each(containers, open_engine().unpause)


@click.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container"
)
@click.argument("containers", nargs=-1, required=True)
def rm(force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    _each(containers, lambda ref: open_engine().remove(ref, force, volumes))


@click.command("rename")
@click.argument("container")
@click.argument("new_name")
def rename_(container: str, new_name: str) -> None:
    """Rename a container."""
    try:
        rename(open_engine(), container, new_name)
    except InvalidOptionError as exc:  # the daemon's refusal in docker: exit 1, not 125
        raise CommandRefusedError(str(exc)) from exc


@click.command("wait")
@click.option(
    "--condition",
    default="not-running",
    type=click.Choice(["not-running", "next-exit", "removed"]),
    help="Wait until the container is not running, has exited next, or is removed",
)
@click.argument("containers", nargs=-1, required=True)
def wait(condition: str, containers: tuple[str, ...]) -> None:
    """Block until containers stop, then print their exit codes."""
    failed = False
    for ref in containers:
        try:
            click.echo(open_engine().wait(ref, condition))
        except EngineError as exc:
            click.echo(f"Error response from daemon: {exc}", err=True)
            failed = True
    if failed:
        raise click.exceptions.Exit(1)


@click.command("_exited", hidden=True)
@click.argument("container")
def exited(container: str) -> None:
    """Run by a container's shim once its exit is on disk: cleanup and restart policy."""
    try:
        open_engine().on_exit(container)
    except NoSuchContainerError:
        pass


@click.command("update")
@click.option("-m", "--memory", default="", help="Memory limit")
@click.option("--memory-swap", default="", help="Memory+swap limit: '-1' unlimited")
@click.option("--cpus", default="", help="Number of CPUs")
@click.option("-c", "--cpu-shares", type=int, default=None, help="CPU shares (relative weight)")
@click.option("--cpuset-cpus", default=None, help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--pids-limit", type=int, default=None, help="Tune container pids limit")
@click.option("--restart", default="", help="Restart policy to apply when a container exits")
@click.argument("containers", nargs=-1, required=True)
def update_(containers: tuple[str, ...], **values: Any) -> None:
    """Update configuration of one or more containers."""
    request = UpdateRequest(**values)
    _each(containers, lambda ref: update(open_engine(), ref, request))


@click.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file")
@click.argument("container")
def export_(output: str | None, container: str) -> None:
    """Export a container's filesystem as a tar archive."""
    if output is None and sys.stdout.isatty():
        raise CommandRefusedError(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect"
        )
    with _as_refusal():
        if output is None:
            filesystem.export(open_engine(), container, sys.stdout.buffer)
            return
        with open(output, "wb") as f:
            filesystem.export(open_engine(), container, f)


@click.command("diff")
@click.argument("container")
def diff(container: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    with _as_refusal():
        found = filesystem.changes(open_engine(), container)
    for kind, path in found:
        click.echo(f"{'CAD'[kind]} {path}")
