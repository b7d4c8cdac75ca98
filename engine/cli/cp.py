"""`pyengine cp`: files between a container (running or stopped) and the host, or a tar
stream (`-`), with docker cp's rules for where the copy lands:

- into an existing directory: under it, with the source's name;
- to a path that does not exist (its parent does): the copy gets that name;
- `-` as the destination: the tar stream on stdout; as the source: a tar stream on stdin.
"""

import io
import os
import posixpath
import sys
import tarfile
import tempfile

import click

from engine.cli.context import open_engine
from engine.cli.exitcodes import CommandRefusedError
from engine.errors import EngineError, NotFoundError
from engine.lifecycle.archive import read_archive, stat_path, write_archive


def _split(arg: str) -> tuple[str, str]:
    """`CONTAINER:PATH` → (container, path); a local path (absolute, or with no colon before
    its first slash) → ("", path)."""
    head, sep, rest = arg.partition(":")
    if not sep or "/" in head or not head:
        return "", arg
    return head, rest or "/"


def _renamed(data: bytes, name: str) -> bytes:
    """The tar with its top entry (and everything under it) renamed to `name`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src.getmembers():
            _top, sep, rest = member.name.partition("/")
            member.name = name + (sep + rest if sep else "")
            dst.addfile(member, src.extractfile(member) if member.isreg() else None)
    return out.getvalue()


def _from_container(container: str, path: str, dest: str) -> None:
    engine = open_engine()
    chunks: list[bytes] = []
    try:
        stat_path(engine, container, path)
    except NotFoundError:
        raise CommandRefusedError(f"No such container:path: {container}:{path}") from None
    read_archive(engine, container, path, chunks.append)
    data = b"".join(chunks)
    if dest == "-":
        sys.stdout.buffer.write(data)
        return
    target = os.path.abspath(dest)
    if os.path.isdir(target):
        into, data_ = target, data
    else:
        into = os.path.dirname(target)
        if not os.path.isdir(into):
            raise CommandRefusedError(f"destination directory {into} does not exist")
        data_ = _renamed(data, os.path.basename(target))
    with tarfile.open(fileobj=io.BytesIO(data_)) as tar:
        tar.extractall(into, filter="tar")


def _to_container(source: str, container: str, path: str) -> None:
    engine = open_engine()
    if source == "-":
        write_archive(engine, container, path, sys.stdin.buffer.read())
        return
    if not os.path.lexists(source):
        raise CommandRefusedError(f"could not find the file {source}")
    name = os.path.basename(os.path.normpath(source))
    directory = path
    try:
        if not stat_path(engine, container, path).is_dir:
            directory, name = posixpath.split(posixpath.normpath(path))
    except NotFoundError:
        directory, name = posixpath.split(posixpath.normpath(path))
    with tempfile.SpooledTemporaryFile(16 << 20) as spool:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            tar.add(source, arcname=name)
        spool.seek(0)
        data = spool.read()
    write_archive(engine, container, directory or "/", data)


@click.command("cp")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.argument("source")
@click.argument("dest")
def cp(archive: bool, follow_link: bool, source: str, dest: str) -> None:
    """Copy files/folders between a container and the local filesystem."""
    src_container, src_path = _split(source)
    dst_container, dst_path = _split(dest)
    if bool(src_container) == bool(dst_container):
        raise CommandRefusedError(
            "copying between containers is not supported" if src_container
            else "must specify at least one container source"
        )  # fmt: skip
    try:
        if src_container:
            _from_container(src_container, src_path, dst_path)
        else:
            _to_container(src_path, dst_container, dst_path)
    except (EngineError, tarfile.TarError, OSError) as exc:
        if isinstance(exc, CommandRefusedError):
            raise
        raise CommandRefusedError(str(exc)) from exc
