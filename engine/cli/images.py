"""`pyengine images|image|import|load|rmi`: images without a registry, as `docker` spells them.

Every image command exits 1 when it is refused (no such image, a conflict, a bad archive), as
`docker` does for any daemon error; a usage error exits 125 through the group's `main`.
The store is `$PYENGINE_ROOT/images` (default /var/lib/pyengine).
"""

import contextlib
import fnmatch
import json
import os
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

import click

from engine.cli.context import open_images
from engine.images.display import created_ago, human_size, image_rows, table
from engine.images.errors import ImageError, InvalidArchiveError
from engine.images.model import Image

_FIELD = re.compile(r"^\{\{\s*(json\s+)?((?:\.[A-Za-z0-9_]+)+|\.)\s*\}\}$")


def _matches(tag: str, pattern: str) -> bool:
    """`busybox*` matches the repository, `busybox:1.*` the repository and tag."""
    return fnmatch.fnmatchcase(tag, pattern) or fnmatch.fnmatchcase(tag.rpartition(":")[0], pattern)


def _filtered(images: list[Image], filters: tuple[str, ...]) -> list[Image]:
    """`--filter dangling=true|false` and `--filter reference=PATTERN` (shell-style)."""
    for spec in filters:
        key, _, value = spec.partition("=")
        if key == "dangling" and value in ("true", "false"):
            images = [i for i in images if (not i.tags) == (value == "true")]
        elif key == "reference" and value:
            images = [i for i in images if any(_matches(t, value) for t in i.tags)]
        else:
            raise click.UsageError(
                f"invalid filter '{spec}' (dangling=true|false, reference=PATTERN)"
            )
    return images


def _list(repository: str | None, quiet: bool, no_trunc: bool, filters: tuple[str, ...]) -> None:
    found = _filtered(open_images().images(repository), filters)
    if quiet:
        seen: dict[str, None] = {}
        for image in found:
            seen.setdefault(image.id if no_trunc else image.short_id)
        click.echo("".join(f"{i}\n" for i in seen), nl=False)
        return
    click.echo(table(image_rows(found, no_trunc=no_trunc)), nl=False)


_list_options = [
    click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]"),
    click.option("-q", "--quiet", is_flag=True, help="Only show image IDs."),
    click.option("-a", "--all", "all_", is_flag=True, help="Accepted for Docker compatibility."),
    click.option("--no-trunc", is_flag=True, help="Don't truncate output."),
    click.option("-f", "--filter", "filters", multiple=True, help="dangling=true, reference=PAT"),
]


def _listing(name: str) -> click.Command:
    def command(
        repository: str | None, quiet: bool, all_: bool, no_trunc: bool, filters: tuple[str, ...]
    ) -> None:
        """List images."""
        _list(repository, quiet, no_trunc, filters)

    for option in reversed(_list_options):
        command = option(command)
    return click.command(name)(command)


images = _listing("images")


@click.group("image")
def image() -> None:
    """Manage images."""


image.add_command(_listing("ls"))


def _open_source(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    if re.match(r"^[a-z]+://", source):
        raise InvalidArchiveError(
            f"cannot import from {source}: pyengine has no network access to images; "
            "download the tarball and import the file"
        )
    try:
        return open(source, "rb")
    except OSError as exc:
        raise InvalidArchiveError(f"open {source}: {exc.strerror}") from None


@click.command("import")
@click.argument("source", metavar="file|-")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-c", "--change", multiple=True, help="Apply a Dockerfile instruction (CMD, ENV...).")
@click.option("-m", "--message", default="", help="Set a commit message for the imported image.")
def import_(source: str, repository: str | None, change: tuple[str, ...], message: str) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    stream = _open_source(source)
    try:
        image_id = open_images().import_rootfs(
            stream, repository, changes=list(change), message=message, source_name=source
        )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    click.echo(image_id)


@click.command("load")
@click.option("-i", "--input", "input_", type=click.Path(dir_okay=False), help="Read from a file.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output.")
def load(input_: str | None, quiet: bool) -> None:
    """Load an image from a tar archive (docker save or OCI layout) or STDIN."""
    if input_ is None and sys.stdin.isatty():
        raise InvalidArchiveError("requested load from stdin, but stdin is empty")
    stream = _open_source(input_ or "-")
    try:
        loaded = open_images().load(stream)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    for item in loaded:
        for name, old in item.displaced:
            click.echo(
                f"The image {name} already exists, renaming the old one with ID {old} "
                "to empty string"
            )
        for name in item.tags:
            click.echo(f"Loaded image: {name}")
        if not item.tags:
            click.echo(f"Loaded image ID: {item.image_id}")


@click.command("save")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file")
@click.argument("images", nargs=-1, required=True)
def save(output: str | None, images: tuple[str, ...]) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if output is None and sys.stdout.isatty():
        raise ImageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if output is None:
        open_images().save(images, sys.stdout.buffer)
        return
    # Written beside the target and renamed: a failed save leaves no half archive there.
    target = os.path.abspath(output)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            open_images().save(images, f)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _raise_last(errors: list[ImageError]) -> None:
    """Report every error as `docker` does and exit 1: all but the last here, that one by main."""
    for error in errors[:-1]:
        click.echo(f"pyengine: {error}", err=True)
    if errors:
        raise errors[-1]


def _rmi(images: tuple[str, ...], force: bool) -> None:
    errors = []
    for name in images:
        try:
            done = open_images().remove(name, force=force)
        except ImageError as exc:
            errors.append(exc)
            continue
        for line in done.lines():
            click.echo(line)
    _raise_last(errors)


_rm_args = [
    click.argument("images", nargs=-1, required=True, metavar="IMAGE [IMAGE...]"),
    click.option("-f", "--force", is_flag=True, help="Force removal of the image."),
    click.option("--no-prune", is_flag=True, help="Accepted for Docker compatibility."),
]


def _removal(name: str) -> click.Command:
    def command(images: tuple[str, ...], force: bool, no_prune: bool) -> None:
        """Remove one or more images."""
        _rmi(images, force)

    for option in reversed(_rm_args):
        command = option(command)
    return click.command(name)(command)


rmi = _removal("rmi")
image.add_command(_removal("rm"))
image.add_command(import_)
image.add_command(load)
image.add_command(save)


@click.command("history")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.argument("name", metavar="IMAGE")
def history(no_trunc: bool, quiet: bool, name: str) -> None:
    """Show the history of an image."""
    entries = open_images().history(name)
    if quiet:
        for entry in entries:
            click.echo(entry["Id"] if no_trunc else _short(entry["Id"]))
        return
    rows = [("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT")]
    for entry in entries:
        made = datetime.fromtimestamp(entry["Created"], UTC) if entry["Created"] else None
        by = entry["CreatedBy"].replace("\t", " ")
        if not no_trunc and len(by) > HISTORY_WIDTH:
            by = by[: HISTORY_WIDTH - 1] + "…"  # docker's ellipsis
        image_id = entry["Id"] if no_trunc else _short(entry["Id"])
        rows.append((image_id, created_ago(made), by, human_size(entry["Size"]), entry["Comment"]))
    click.echo(table(rows), nl=False)


HISTORY_WIDTH = 45


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


image.add_command(history)


def _format(template: str, doc: dict[str, Any]) -> str:
    match = _FIELD.match(template.strip())
    if match is None:
        raise click.UsageError("--format supports only {{.Field.Sub}} and {{json .Field}}")
    value: Any = doc
    for part in match.group(2).split(".")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    if match.group(1) or isinstance(value, dict | list):
        return json.dumps(value)
    return "<no value>" if value is None else str(value)


@image.command("inspect")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("-f", "--format", "template", default=None, help="Print {{.Field}} per image.")
def inspect(names: tuple[str, ...], template: str | None) -> None:
    """Display detailed information on one or more images."""
    found: list[dict[str, Any]] = []
    errors: list[ImageError] = []
    for name in names:
        try:
            found.append(open_images().inspect(name))
        except ImageError as exc:
            errors.append(exc)
    if template is not None:
        for doc in found:
            click.echo(_format(template, doc))
    else:
        click.echo(json.dumps(found, indent=4))
    _raise_last(errors)


@image.command("tag")
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
def tag(source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    open_images().tag(source, target)


@image.command("prune")
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just dangling."
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
def prune(all_: bool, force: bool) -> None:
    """Remove unused images."""
    if not force:
        what = (
            "all images without at least one container associated to them"
            if all_
            else "all dangling images"
        )
        click.confirm(
            f"WARNING! This will remove {what}.\nAre you sure you want to continue?", abort=True
        )
    done = open_images().prune(all_images=all_)
    if done.untagged or done.deleted:
        click.echo("Deleted Images:")
        for line in done.lines():
            head, _, rest = line.partition(":")
            click.echo(f"{head.lower()}:{rest}")
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(done.reclaimed)}")
