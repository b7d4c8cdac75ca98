"""Commands that read containers: ps, inspect, port, logs, top, stats, events; and exec."""

import json
import os
import sys
import time

import click

from engine.cli.attach import raw_terminal
from engine.cli.context import open_engine
from engine.containers import logs as log_reader
from engine.containers import views
from engine.containers.errors import NoSuchContainerError
from engine.lifecycle.execs import ExecRequest
from engine.lifecycle.streams import EventsRequest, LogsRequest
from engine.lifecycle.top import container_top


@click.command("ps")
@click.option("-a", "--all", "everything", is_flag=True, help="Show all containers")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
def ps(everything: bool, quiet: bool, no_trunc: bool) -> None:
    """List containers (newest first, as Docker)."""
    records = list(reversed(open_engine().listing(everything)))
    if quiet:
        for record in records:
            click.echo(record.id if no_trunc else views.short_id(record.id))
        return
    now = time.time()
    rows: list[tuple[str, ...]] = [views.PS_HEADER]
    for record in records:
        row = views.ps_row(record, now)
        rows.append((record.id, *row[1:]) if no_trunc else row)
    click.echo(views.table(rows), nl=False)


@click.command("inspect")
@click.argument("containers", nargs=-1, required=True)
def inspect(containers: tuple[str, ...]) -> None:
    """Display detailed information on one or more containers, as a JSON array."""
    engine = open_engine()
    found, missing = [], []
    for ref in containers:
        try:
            with engine.locked(ref) as record:
                found.append(
                    views.inspect(
                        record,
                        str(engine.log_path(record.id)),
                        engine.proxy_state(record),
                        str(engine.volumes.dir),
                        engine.health_state(record),
                    )
                )
        except NoSuchContainerError:
            missing.append(ref)
    click.echo(json.dumps(found, indent=4))
    for ref in missing:
        click.echo(f"Error: No such object: {ref}", err=True)
    if missing:
        raise click.exceptions.Exit(1)


@click.command("port")
@click.argument("container")
@click.argument("private_port", required=False)
def port(container: str, private_port: str | None) -> None:
    """List port mappings or a specific mapping for the container."""
    engine = open_engine()
    with engine.locked(container) as record:
        lines = views.port_lines(record, private_port)
    if private_port and not lines:
        key = private_port if "/" in private_port else f"{private_port}/tcp"
        click.echo(f"Error: No public port '{key}' published for {container}", err=True)
        raise click.exceptions.Exit(1)
    for line in lines:
        click.echo(line)


@click.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--since", default="", help="Show logs since a timestamp or relative (e.g. 42m)")
@click.option("--until", default="", help="Show logs before a timestamp or relative")
@click.argument("container")
def logs(
    *, follow: bool, tail: str, timestamps: bool, since: str, until: str, container: str
) -> None:
    """Fetch the logs of a container."""
    now = time.time()
    request = LogsRequest(
        follow=follow,
        tail=log_reader.parse_tail(tail),
        since=log_reader.parse_time_arg(since, now) if since else 0.0,
        until=log_reader.parse_time_arg(until, now) if until else 0.0,
    )
    for entry in open_engine().logs(container, request):
        out = sys.stdout if entry.stream == "stdout" else sys.stderr
        out.write(log_reader.render(entry, timestamps))
        if follow:
            out.flush()
    sys.stdout.flush()


@click.command("top")
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
def top(container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container (host `ps`, filtered by its pids)."""
    table = container_top(open_engine(), container, ps_args)
    click.echo(table.header)
    for line in table.lines:
        click.echo(line)


@click.command("stats")
@click.option("--no-stream", is_flag=True, help="Print one sample and exit (always, here)")
@click.option("-a", "--all", "everything", is_flag=True, help="Show all containers")
@click.argument("containers", nargs=-1)
def stats(no_stream: bool, everything: bool, containers: tuple[str, ...]) -> None:
    """One sample of CPU, memory and pids per running container."""
    engine = open_engine()
    records = [engine.store.find(ref) for ref in containers] if containers else engine.listing()
    rows = [("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS")]
    first = {r.id: (engine.tasks.stats(r.id), time.monotonic()) for r in records}
    time.sleep(0.5)
    for record in records:
        before, t0 = first[record.id]
        after = engine.tasks.stats(record.id)
        elapsed = time.monotonic() - t0
        cpu = (after["cpu_ns"] - before["cpu_ns"]) / 1e9 / elapsed * 100 if elapsed else 0.0
        limit = after["memory_limit"] or _host_memory()
        rows.append(
            (
                views.short_id(record.id),
                record.name,
                f"{cpu:.2f}%",
                f"{_mib(after['memory'])} / {_mib(limit)}",
                f"{after['memory'] / limit * 100:.2f}%",
                str(after["pids"]),
            )
        )
    click.echo(views.table(rows), nl=False)


def _mib(value: int) -> str:
    return f"{value / (1 << 30):.3g}GiB" if value >= 1 << 30 else f"{value / (1 << 20):.4g}MiB"


def _host_memory() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        return int(f.readline().split()[1]) * 1024


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.option("-u", "--user", default="", help="Username or UID")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(
    *,
    detach: bool,
    interactive: bool,
    tty: bool,
    env: tuple[str, ...],
    workdir: str,
    user: str,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container; exits with the command's code."""
    engine = open_engine()
    # docker's order: an unknown container first, then a terminal that -it cannot have.
    engine.store.find(container)
    attached_tty = tty and not detach and os.isatty(0)
    if interactive and tty and not detach and not attached_tty:
        click.echo("the input device is not a TTY", err=True)
        raise click.exceptions.Exit(1)
    size = None
    if attached_tty:
        terminal = os.get_terminal_size(0)
        size = (terminal.lines, terminal.columns)
    request = ExecRequest(
        command,
        env=env,
        cwd=workdir,
        user=user,
        tty=tty,
        detach=detach,
        stdin=interactive,
        console_size=size,
    )
    code = engine.exec(container, request, terminal=raw_terminal if attached_tty else None)
    raise click.exceptions.Exit(code)


@click.command("events")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
def events(since: str, until: str) -> None:
    """Container events, from the engine's event log; streams new ones without --until."""
    now = time.time()
    request = EventsRequest(
        since_ns=int(log_reader.parse_time_arg(since, now) * 1e9) if since else 0,
        until_ns=int(log_reader.parse_time_arg(until, now) * 1e9) if until else 0,
    )
    for event in open_engine().events(request):
        click.echo(event.line())
        sys.stdout.flush()
