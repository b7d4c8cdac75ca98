"""Container records on disk, shared by every `pyengine` process.

Layout under the engine root: `containers/<id>/record.json`, written whole through a temporary
file and a rename so a kill -9 leaves the old or the new record, never half of one. Creating,
renaming and removing take `containers/.lock` (flock) so two processes cannot take one name.
"""

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from engine.containers.errors import ConflictError, InvalidOptionError, NoSuchContainerError
from engine.containers.record import ContainerRecord, from_json, to_json
from engine.private import write_private
from netns.flock import flocked

RECORD = "record.json"


class ContainerStore:
    """Records of all containers under `root/containers`."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "containers"

    def __repr__(self) -> str:
        return f"ContainerStore({str(self.dir)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: names and ids cannot change meanwhile."""
        with flocked(self.dir / ".lock"):
            yield

    def container_dir(self, container_id: str) -> Path:
        """Where one container's record, logs and engine-side files live."""
        return self.dir / container_id

    def all(self) -> list[ContainerRecord]:
        """Every record, oldest first; a directory without a readable record is skipped."""
        found = []
        if not self.dir.is_dir():
            return []
        for entry in self.dir.iterdir():
            if entry.name.startswith("."):  # locks, and the trash of removals in progress
                continue
            record = self._read(entry / RECORD)
            if record is not None:
                found.append(record)
        return sorted(found, key=lambda r: r.created)

    def find(self, ref: str) -> ContainerRecord:
        """By full id, name, or unique id prefix (Docker's lookup order)."""
        if not ref:
            raise InvalidOptionError("container name or ID cannot be empty")
        records = self.all()
        for record in records:
            if ref in (record.id, record.name, "/" + record.name):
                return record
        matches = [r for r in records if r.id.startswith(ref)]
        if len(matches) > 1:
            raise ConflictError(f"Multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise NoSuchContainerError(ref)
        return matches[0]

    def add(self, record: ContainerRecord) -> None:
        """Store a new record; its name must be free. Call under `locked()`."""
        for other in self.all():
            if other.name == record.name:
                raise ConflictError(
                    f'Conflict. The container name "/{record.name}" is already in use by '
                    f'container "{other.id}". You have to remove (or rename) that container '
                    "to be able to reuse that name."
                )
        # Made aside and renamed into place: a process killed midway leaves no directory
        # without a record (one that no listing shows and no `rm` can name). Under the store's
        # lock no other creation is in progress, so any `.new-*` here is such a leftover.
        for left in self.dir.glob(".new-*"):
            shutil.rmtree(left, ignore_errors=True)
        staging = self.dir / f".new-{record.id}"
        staging.mkdir(parents=True)
        # A --rm container is not meant to outlive its run, let alone a power loss.
        self._write_in(staging, record, durable=not record.host.auto_remove)
        os.rename(staging, self.container_dir(record.id))

    def write(self, record: ContainerRecord, *, durable: bool = True) -> None:
        """Replace a record atomically (a killed writer leaves the old one or the new one).

        `durable` also survives a power loss (fsync, about 1 ms). States that mean nothing
        after a reboot (a start in progress, running, a removal in progress) skip it: the
        page cache already outlives any process, and `system boot` reconciles the rest.
        """
        self._write_in(self.container_dir(record.id), record, durable=durable)

    @staticmethod
    def _write_in(directory: Path, record: ContainerRecord, *, durable: bool) -> None:
        # The record holds the container's environment: 0600 (engine.private).
        text = json.dumps(to_json(record), separators=(",", ":"))
        write_private(directory / RECORD, text, durable=durable)

    def reload(self, record: ContainerRecord) -> ContainerRecord:
        """The record as it is on disk now (another process may have changed it)."""
        current = self._read(self.container_dir(record.id) / RECORD)
        if current is None:
            raise NoSuchContainerError(record.id)
        return current

    def remove(self, container_id: str) -> None:
        """Forget a container and its files; absent is fine.

        The directory is renamed away first: a process that opens the container's lock while
        the files go (`ps`, a late exit command) must find nothing there, not recreate `.lock`
        in a directory being emptied and leave it behind. Trash a killed remover left goes too.
        """
        trash = self.dir / f".trash-{container_id}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.container_dir(container_id), trash)
        for left in self.dir.glob(".trash-*"):
            shutil.rmtree(left, ignore_errors=True)

    @staticmethod
    def _read(path: Path) -> ContainerRecord | None:
        try:
            with open(path, encoding="utf-8") as f:
                return from_json(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            return None
