"""`pyengine ctr`: talk to shims directly, as `ctr` talks to containerd (no engine state).

    pyengine ctr containers create ID --bundle DIR [--runtime PATH] [--runtime-arg A]...
    pyengine ctr containers list | delete ID
    pyengine ctr tasks start|kill|ps|pause|resume|wait|list ... ; tasks exec ID --exec-id E CMD...
    pyengine ctr events [ID...]      a live stream, one JSON event per line
    pyengine ctr state ID            the shim's raw state as JSON
    pyengine ctr version

Roots: --run-root (env PYENGINE_RUN, default /run/pyengine) and --root (env PYENGINE_ROOT,
default /var/lib/pyengine). Errors exit with the error's code (125; 126/127 for a command that
cannot run), as every pyengine command does.
"""

import json
import queue
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from engine.defaults import default_root, default_run_root
from engine.private import ensure_private_roots
from engine.runtime.runtime import Runtime
from engine.runtime.spec import process_spec
from engine.shimapi.config import VERSION, ShimConfig
from engine.shimapi.discovery import cleanup_dead, list_ids, probe
from engine.shimapi.errors import TaskNotFoundError
from engine.shimapi.paths import Layout
from engine.tasks.client import ShimClient
from engine.tasks.spawn import create_task, remove_task


class Roots:
    def __init__(self, run_root: str, root: str) -> None:
        self.run_root = run_root
        self.root = root

    def layout(self, cid: str) -> Layout:
        return Layout(self.run_root, self.root, cid)

    def client(self, cid: str) -> ShimClient:
        layout = self.layout(cid)
        if cid not in list_ids(self.run_root):
            raise TaskNotFoundError(f"no such container: {cid}")
        return ShimClient.for_layout(layout)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.group()
@click.option("--run-root", default=default_run_root, show_default="$PYENGINE_RUN or /run/pyengine")
@click.option("--root", default=default_root, show_default="$PYENGINE_ROOT or /var/lib/pyengine")
@click.pass_context
def ctr(ctx: click.Context, run_root: str, root: str) -> None:
    """Low-level access to shims: containers, tasks, events, state, version."""
    ensure_private_roots(Path(run_root), Path(root))  # runc's state holds the environment
    ctx.obj = Roots(run_root, root)


@ctr.command()
def version() -> None:
    """pyshim's version and the default runtime's."""
    click.echo(f"pyshim {VERSION}")
    click.echo(Runtime("runc").version())


@ctr.group()
def containers() -> None:
    """Create, list and delete containers (one shim each)."""


@containers.command("create")
@click.argument("cid")
@click.option("--bundle", required=True, type=click.Path(file_okay=False))
@click.option("--runtime", default="runc", help="runtime binary: a name on PATH or a path")
@click.option("--runtime-arg", "runtime_args", multiple=True, help="extra global runtime args")
@click.option("--stdin", is_flag=True, help="keep a stdin pipe open (close it with tasks close-io)")
@click.option("--log-max-size", type=int, default=-1)
@click.option("--log-max-file", type=int, default=1)
@click.pass_obj
def containers_create(  # noqa: PLR0917 - click passes every option positionally
    roots: Roots,
    cid: str,
    bundle: str,
    runtime: str,
    runtime_args: tuple[str, ...],
    stdin: bool,
    log_max_size: int,
    log_max_file: int,
) -> None:
    """Start a shim for CID and create the task (state: created); prints the init pid."""
    config = ShimConfig(
        id=cid,
        bundle=bundle,
        run_root=roots.run_root,
        root=roots.root,
        runtime=runtime,
        runtime_args=runtime_args,
        log_max_size=log_max_size,
        log_max_file=log_max_file,
    )
    client = create_task(config, stdin=stdin)
    click.echo(client.state()["pid"])
    client.close()


@containers.command("list")
@click.pass_obj
def containers_list(roots: Roots) -> None:
    """Every container with a shim directory: id, status, pid (dead shims show as such)."""
    click.echo(f"{'ID':<32} {'STATUS':<10} {'PID':>8}  EXIT")
    for cid in list_ids(roots.run_root):
        if not probe(roots.layout(cid)):
            click.echo(f"{cid:<32} {'dead-shim':<10} {'-':>8}  -")
            continue
        with roots.client(cid) as client:
            try:
                st = client.state()
            except TaskNotFoundError:
                click.echo(f"{cid:<32} {'none':<10} {'-':>8}  -")
                continue
        exit_status = "-" if st["exit_status"] is None else st["exit_status"]
        click.echo(f"{cid:<32} {st['status']:<10} {st['pid']:>8}  {exit_status}")


@containers.command("delete")
@click.argument("cid")
@click.pass_obj
def containers_delete(roots: Roots, cid: str) -> None:
    """Delete a stopped (or created) task and stop its shim; a dead shim is cleaned up."""
    layout = roots.layout(cid)
    if cid in list_ids(roots.run_root) and not probe(layout):
        record = cleanup_dead(layout)
        click.echo(f"{cid}: shim was dead, exit status {record.exit_status}")
        return
    status = remove_task(roots.client(cid))
    click.echo(f"{cid}: exit status {status.exit_status}")


@ctr.group()
def tasks() -> None:
    """Start, signal, inspect and exec in tasks."""


@tasks.command("list")
@click.pass_context
def tasks_list(ctx: click.Context) -> None:
    """Same table as containers list."""
    ctx.invoke(containers_list)


@tasks.command("start")
@click.argument("cid")
@click.option("--exec-id", default="")
@click.pass_obj
def tasks_start(roots: Roots, cid: str, exec_id: str) -> None:
    """Start the task (or a created exec)."""
    with roots.client(cid) as client:
        click.echo(client.start(exec_id))


@tasks.command("kill")
@click.argument("cid")
@click.option("-s", "--signal", "sig", default="TERM", show_default=True)
@click.option("--all", "all_", is_flag=True, help="every process of the container")
@click.option("--exec-id", default="")
@click.pass_obj
def tasks_kill(roots: Roots, cid: str, sig: str, all_: bool, exec_id: str) -> None:
    """Send a signal (name, SIGNAME or number)."""
    with roots.client(cid) as client:
        client.kill(sig, all=all_, exec_id=exec_id)


@tasks.command("ps")
@click.argument("cid")
@click.pass_obj
def tasks_ps(roots: Roots, cid: str) -> None:
    """Host pids of the container's processes."""
    with roots.client(cid) as client:
        click.echo(f"{'PID':>8}  EXEC")
        for p in client.pids():
            click.echo(f"{p['pid']:>8}  {p['exec_id'] or '-'}")


@tasks.command("pause")
@click.argument("cid")
@click.pass_obj
def tasks_pause(roots: Roots, cid: str) -> None:
    """Freeze the container."""
    with roots.client(cid) as client:
        client.pause()


@tasks.command("resume")
@click.argument("cid")
@click.pass_obj
def tasks_resume(roots: Roots, cid: str) -> None:
    """Thaw the container."""
    with roots.client(cid) as client:
        client.resume()


@tasks.command("close-io")
@click.argument("cid")
@click.pass_obj
def tasks_close_io(roots: Roots, cid: str) -> None:
    """Close the task's stdin: it reads EOF."""
    with roots.client(cid) as client:
        client.close_io()


@tasks.command("wait")
@click.argument("cid")
@click.option("--exec-id", default="")
@click.pass_obj
def tasks_wait(roots: Roots, cid: str, exec_id: str) -> None:
    """Block until the task (or exec) exits; print its exit status."""
    with roots.client(cid) as client:
        click.echo(client.wait(exec_id).exit_status)


@tasks.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("cid")
@click.option("--exec-id", required=True)
@click.option("-d", "--detach", is_flag=True, help="return once it runs; output is discarded")
@click.option("--cwd", default="/")
@click.option("-e", "--env", multiple=True, help="KEY=VALUE (PATH defaults to the usual one)")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def tasks_exec(  # noqa: PLR0917 - click passes every option positionally
    roots: Roots,
    cid: str,
    exec_id: str,
    detach: bool,
    cwd: str,
    env: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in the container; without -d, print its output and exit with its status."""
    spec_env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *env]
    spec = process_spec(list(command), env=spec_env, cwd=cwd)
    with roots.client(cid) as client, tempfile.TemporaryDirectory(prefix="pyctr-") as tmp:
        out, err = ("", "") if detach else (f"{tmp}/stdout", f"{tmp}/stderr")
        client.exec(exec_id, spec, stdout=out, stderr=err)
        client.start(exec_id)
        if detach:
            return
        status = client.wait(exec_id).exit_status
        client.delete(exec_id)
        sys.stdout.write(Path(out).read_text(errors="replace") if Path(out).exists() else "")
        sys.stderr.write(Path(err).read_text(errors="replace") if Path(err).exists() else "")
    if status:
        raise click.exceptions.Exit(status)


@ctr.command()
@click.argument("ids", nargs=-1)
@click.pass_obj
def events(roots: Roots, ids: tuple[str, ...]) -> None:
    """Stream events of the given containers (default: every live shim) as JSON lines."""
    targets = list(ids) or [c for c in list_ids(roots.run_root) if probe(roots.layout(c))]
    merged: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def pump(stream: Iterator[dict[str, Any]]) -> None:
        try:
            for event in stream:
                merged.put(event)
        finally:
            merged.put(None)

    for cid in targets:
        stream = roots.client(cid).events()
        threading.Thread(target=pump, args=(stream,), daemon=True).start()
    open_streams = len(targets)
    while open_streams:
        event = merged.get()
        if event is None:
            open_streams -= 1
            continue
        click.echo(json.dumps(event, sort_keys=True))


@ctr.command()
@click.argument("cid")
@click.pass_obj
def state(roots: Roots, cid: str) -> None:
    """The shim's raw view: connect + state (+ the exit record once there is one)."""
    with roots.client(cid) as client:
        data: dict[str, Any] = {"shim": client.connect()}
        try:
            data["task"] = client.state()
        except TaskNotFoundError:
            data["task"] = None
    exit_file = Path(roots.layout(cid).exit_file)
    data["exit_record"] = json.loads(exit_file.read_text()) if exit_file.exists() else None
    _echo_json(data)
