"""`pyengine volume create|ls|inspect|rm|prune`: the local driver's named volumes, with
Docker's flags, output and exit codes (1 for a refusal: unknown, in use)."""

import json

import click

from engine.cli.context import open_volumes
from engine.cli.exitcodes import CommandRefusedError
from engine.images.display import human_size
from engine.lifecycle.volumes import VolumeCreate, volume_matches
from engine.text import table
from engine.volumes.errors import NoSuchVolumeError, VolumeError


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command()
@click.argument("name", required=False, default="")
@click.option("--name", "name_flag", default="", help="Specify volume name")
@click.option(
    "-d", "--driver", default="local", show_default=True, help="Specify volume driver name"
)
@click.option("-o", "--opt", "opts", multiple=True, help="Set driver specific options")
@click.option("--label", "labels", multiple=True, help="Set metadata for a volume")
def create(
    name: str, name_flag: str, driver: str, opts: tuple[str, ...], labels: tuple[str, ...]
) -> None:
    """Create a volume."""
    if name and name_flag and name != name_flag:
        raise click.UsageError(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    request = VolumeCreate(name or name_flag, driver, opts, labels)
    click.echo(open_volumes().create(request).name)


def _filters(items: tuple[str, ...]) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandRefusedError("bad format of filter (expected name=value)")
        wanted.setdefault(key, []).append(value)
    return wanted


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option(
    "-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'dangling=true')"
)
@click.option("--format", "fmt", default="", help="json, or the default table")
def ls(quiet: bool, filters: tuple[str, ...], fmt: str) -> None:
    """List volumes."""
    wanted = _filters(filters)
    views = [v for v in open_volumes().listing() if volume_matches(v, wanted)]
    if quiet:
        for view in views:
            click.echo(view.volume.name)
    elif fmt == "json":
        for view in views:
            click.echo(json.dumps(view.to_json()))
    else:
        rows = [("DRIVER", "VOLUME NAME")]
        rows += [(view.volume.driver, view.volume.name) for view in views]
        click.echo(table(rows), nl=False)


@volume.command()
@click.argument("names", nargs=-1, required=True)
def inspect(names: tuple[str, ...]) -> None:
    """Display detailed information on one or more volumes."""
    service = open_volumes()
    found, missing = [], []
    for name in names:
        try:
            found.append(service.inspect(name).to_json())
        except NoSuchVolumeError:
            missing.append(name)
    click.echo(json.dumps(found, indent=4))
    if missing:
        for name in missing:
            click.echo(f"Error: No such volume: {name}", err=True)
        raise click.exceptions.Exit(1)


@volume.command()
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.argument("names", nargs=-1, required=True)
def rm(force: bool, names: tuple[str, ...]) -> None:
    """Remove one or more volumes."""
    service = open_volumes()
    failed = False
    for name in names:
        try:
            service.remove(name, force)
        except VolumeError as exc:
            click.echo(f"Error response from daemon: {exc}", err=True)
            failed = True
            continue
        click.echo(name)
    if failed:
        raise click.exceptions.Exit(1)


@volume.command()
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option(
    "-a",
    "--all",
    "everything",
    is_flag=True,
    help="Remove all unused volumes (the default here, as Docker 20.10)",
)
def prune(force: bool, everything: bool) -> None:
    """Remove all unused local volumes."""
    if not force and not click.confirm(
        "WARNING! This will remove all local volumes not used by at least one container.\n"
        "Are you sure you want to continue?",
        default=False,
    ):
        return
    report = open_volumes().prune()
    if report.deleted:
        click.echo("Deleted Volumes:\n" + "\n".join(report.deleted) + "\n")
    click.echo(f"Total reclaimed space: {human_size(report.reclaimed)}")
