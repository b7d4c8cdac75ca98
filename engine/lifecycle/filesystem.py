"""A container's files from the host's side: `export` (its whole root as a tar), `changes`
(what it changed against its image), and `cp` while it is stopped.

A running container's root is already mounted; a stopped one's is mounted for the call, under
the container's lock (a `start` waits), then unmounted again. Paths are found inside the root
as the container would find them (`mountpoints.resolve_in_root`: absolute links mean the
container's paths, a way out through `..` is refused); the last component is not followed, so
`cp` copies a link as a link; extraction refuses anything that would land outside the target
directory (tarfile's `tar` filter), so a copy never reaches the host's files.
"""

import contextlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from engine.containers.errors import ConflictError
from engine.containers.record import LIVE, ContainerRecord
from engine.errors import EngineError, NotFoundError
from engine.images import api as images_api
from engine.images.rootfs import rootfs_dir
from engine.images.saver import write_tree
from engine.images.store import Store
from engine.lifecycle.base import LifecycleBase
from engine.lifecycle.mountpoints import resolve_in_root

CHANGED, ADDED, DELETED = 0, 1, 2  # Docker's change kinds
# Files the engine mounts over in every container: runc makes their mount points in the
# container's layer, which are not changes of the container's own (Docker hides them too).
ENGINE_MOUNTS = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


@contextlib.contextmanager
def container_root(engine: LifecycleBase, ref: str) -> Iterator[tuple[ContainerRecord, Path]]:
    record = engine.store.find(ref)
    if record.state.status in LIVE:
        yield record, engine.images.prepare_rootfs(record.id, record.config.image_id)
        return
    with engine.locked(ref) as record:
        was_live = record.state.status in LIVE  # started meanwhile: its root stays mounted
        merged = engine.images.prepare_rootfs(record.id, record.config.image_id)
        try:
            yield record, merged
        finally:
            if not was_live:
                engine.images.unmount_rootfs(record.id)


def export(engine: LifecycleBase, ref: str, out: IO[bytes]) -> None:
    """`docker export`: the container's root file system as one tar (volumes not included)."""
    with container_root(engine, ref) as (_record, merged):
        write_tree(merged, out)


def changes(engine: LifecycleBase, ref: str) -> list[tuple[int, str]]:
    """`docker diff`: (kind, path) for what the container added, changed or deleted, sorted."""
    record = engine.store.find(ref)
    upper = rootfs_dir(engine.root, record.id) / "upper"
    image = images_api.find(engine.root, record.config.image_id)
    store = Store(engine.root)
    lowers = [store.layer_dir(d) for d in reversed(image.layers)]
    hidden = {*ENGINE_MOUNTS, *(m.target for m in record.host.mounts)}
    found: list[tuple[int, str]] = []
    for folder, dirs, files in os.walk(upper):
        relative = os.path.relpath(folder, upper)
        for name in (*dirs, *files):
            inner = name if relative == "." else f"{relative}/{name}"
            path = "/" + inner
            if path in hidden:
                continue
            st = os.lstat(os.path.join(folder, name))
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                found.append((DELETED, path))  # an overlayfs whiteout
            elif any(os.path.lexists(lower / inner) for lower in lowers):
                found.append((CHANGED, path))
            else:
                found.append((ADDED, path))
    return sorted(found, key=lambda change: change[1])


def host_path(merged: Path, path: str) -> Path:
    """Where `path` is on the host: its parent resolved inside the root, its last component
    as it is (a link is copied as a link)."""
    clean = posixpath.normpath("/" + path)
    if clean == "/":
        return merged
    parent, base = posixpath.split(clean)
    return resolve_in_root(merged, parent) / base


def stat_host(engine: LifecycleBase, ref: str, path: str) -> os.stat_result:
    with container_root(engine, ref) as (_record, merged):
        try:
            return os.lstat(host_path(merged, path))
        except FileNotFoundError:
            raise NotFoundError(f"Could not find the file {path} in container {ref}") from None


def read_host(engine: LifecycleBase, ref: str, path: str, out: IO[bytes]) -> None:
    """A tar of `path`, its last component the top entry, written to `out`."""
    with container_root(engine, ref) as (_record, merged):
        source = host_path(merged, path)
        if not os.path.lexists(source):
            raise NotFoundError(f"Could not find the file {path} in container {ref}")
        base = posixpath.basename(posixpath.normpath("/" + path)) or "."
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(source, arcname=base, recursive=True)  # links are not followed


def write_host(engine: LifecycleBase, ref: str, directory: str, data: IO[bytes]) -> None:
    """Unpack a tar into `directory`, which must be a directory there."""
    with container_root(engine, ref) as (_record, merged):
        target = host_path(merged, directory)
        if target.is_symlink():
            target = resolve_in_root(merged, posixpath.normpath("/" + directory))
        if not target.is_dir():
            raise ConflictError(f"extraction point is not a directory: {directory}")
        try:
            with tarfile.open(fileobj=data, mode="r|*") as tar:
                tar.extractall(target, filter="tar")
        except (tarfile.TarError, OSError) as exc:
            raise EngineError(f"extracting into {directory}: {exc}") from None
