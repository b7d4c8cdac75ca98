"""Container lifecycle commands: create, run, start, stop, kill, restart, pause, unpause, rm, wait.

Flags follow `docker` (moby cli/command/container); usage errors exit 125 like Docker's.
"""

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from engine.cli.attach import attach_until_exit, parse_detach_keys
from engine.cli.context import config, open_engine
from engine.cli.exitcodes import CommandRefusedError, RunFailedError
from engine.cli.runflags import detach_keys_option, run_flags, run_options, sig_proxy_option
from engine.containers.errors import InvalidOptionError, NoSuchContainerError
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.units import parse_signal
from engine.errors import EngineError
from engine.lifecycle import filesystem
from engine.lifecycle.attach import log_size
from engine.lifecycle.rename import rename
from engine.lifecycle.update import UpdateRequest, update

# Options end at the image name: `run busybox ls -l` passes `-l` to ls.
COMMAND_LINE = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


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
        return open_engine().create(run_flags(values, detach))


@click.command("create", context_settings=COMMAND_LINE)
@run_options
def create(**values: Any) -> None:
    """Create a new container."""
    click.echo(_create(values).id)


def _exit_attached(code: int | None) -> None:
    """The attached container's code; 0 when the detach keys left it running (as docker)."""
    raise click.exceptions.Exit(0 if code is None else code)


@click.command("run", context_settings=COMMAND_LINE)
@click.option(
    "-d", "--detach", is_flag=True, help="Run container in background and print container ID"
)
@sig_proxy_option
@detach_keys_option
@run_options
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
@detach_keys_option
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
@sig_proxy_option
@detach_keys_option
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
