"""Volumes over the seam: what `pyengine volume ...` and the API's /volumes ask, and the part of
`create` and `rm -v` that concerns volumes.

Whether a volume is in use is a question about containers, so it is asked under the container
store's lock, the lock `create` holds while it names a container's volumes: a volume cannot be
removed between the check and a new container's record (lock order: containers, then volumes).
"""

import dataclasses
import datetime
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from engine.containers.errors import InvalidOptionError, NoSuchContainerError
from engine.containers.mounts import FROM_MOUNT_FLAG, MountSpec, check_unique
from engine.containers.record import ContainerRecord, HostConfig
from engine.containers.store import ContainerStore
from engine.containers.views import label_matches
from engine.volumes.errors import InvalidVolumeError, VolumeInUseError
from engine.volumes.store import Volume, VolumeStore

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


@dataclass(frozen=True, slots=True)
class VolumeCreate:
    """`volume create [NAME] [-d local] [-o k=v]... [--label k=v]...`; no name: a new id."""

    name: str = ""
    driver: str = "local"
    options: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VolumeView:
    """A volume as inspect shows it, with the containers that use it."""

    volume: Volume
    users: tuple[str, ...] = ()
    size: int = -1  # bytes, when asked for (system df); -1 otherwise

    def to_json(self) -> dict[str, Any]:
        """Docker's volume JSON (`volume inspect`, GET /volumes/NAME)."""
        v = self.volume
        created = datetime.datetime.fromtimestamp(v.created, datetime.UTC)
        labels = dict(o.partition("=")[::2] for o in v.labels)
        if v.anonymous:
            labels[ANONYMOUS_LABEL] = ""  # as Docker 23+ marks them
        out: dict[str, Any] = {
            "CreatedAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Driver": v.driver,
            "Labels": labels,
            "Mountpoint": v.mountpoint,
            "Name": v.name,
            "Options": dict(o.partition("=")[::2] for o in v.options),
            "Scope": "local",
        }
        if self.size >= 0:
            out["UsageData"] = {"Size": self.size, "RefCount": len(self.users)}
        return out


@dataclass(frozen=True, slots=True)
class PruneReport:
    deleted: tuple[str, ...]
    reclaimed: int


def users_of(records: list[ContainerRecord], name: str) -> tuple[str, ...]:
    """The ids of containers (in any state) that mount volume `name`."""
    return tuple(
        r.id for r in records if any(m.type == "volume" and m.source == name for m in r.host.mounts)
    )


def disk_usage(path: str) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
    return total


def volume_matches(view: VolumeView, wanted: dict[str, list[str]]) -> bool:
    """Docker's volume filters: the values of one key are alternatives, every key must match.
    `label=k` or `label=k=v` (all of them), `name` a substring, `dangling=true|false`."""
    return all(_matches(view, key, values) for key, values in wanted.items())


def _matches(view: VolumeView, key: str, values: list[str]) -> bool:
    v = view.volume
    if key == "dangling":
        bad = [x for x in values if x.lower() not in ("true", "false", "1", "0")]
        if bad:
            raise InvalidVolumeError(f"invalid filter 'dangling={bad[0]}'")
        return any((not view.users) == (x.lower() in ("true", "1")) for x in values)
    if key == "name":
        return any(x in v.name for x in values)
    if key == "driver":
        return v.driver in values
    if key == "label":
        return label_matches(dict(o.partition("=")[::2] for o in v.labels), values)
    raise InvalidVolumeError(f"invalid filter '{key}'")


class VolumeService:
    """The volumes of one engine root, with its containers as their users."""

    def __init__(self, containers: ContainerStore, volumes: VolumeStore) -> None:
        self.containers = containers
        self.volumes = volumes

    def create(self, request: VolumeCreate) -> Volume:
        name = request.name or os.urandom(32).hex()
        with self.volumes.locked():
            volume, _made = self.volumes.ensure(
                name,
                labels=request.labels,
                options=request.options,
                anonymous=False,
                driver=request.driver,
            )
        return volume

    def inspect(self, name: str, *, size: bool = False) -> VolumeView:
        volume = self.volumes.get(name)
        users = users_of(self.containers.all(), volume.name)
        return VolumeView(volume, users, disk_usage(volume.mountpoint) if size else -1)

    def listing(self, *, size: bool = False) -> list[VolumeView]:
        records = self.containers.all()
        return [
            VolumeView(v, users_of(records, v.name), disk_usage(v.mountpoint) if size else -1)
            for v in self.volumes.all()
        ]

    def remove(self, name: str, force: bool = False) -> None:
        """`volume rm`: refused while a container uses it; `-f` only forgives a missing one."""
        with self.containers.locked(), self.volumes.locked():
            if force and self.volumes.find(name) is None:
                return
            volume = self.volumes.get(name)
            users = users_of(self.containers.all(), volume.name)
            if users:
                raise VolumeInUseError(volume.name, users)
            self.volumes.delete(volume.name)

    def prune(self, *, anonymous_only: bool = False, labels: Sequence[str] = ()) -> PruneReport:
        """Every volume no container uses (Docker 20.10; API 1.42+ asks for the anonymous ones
        only unless `all`), of those with all of `labels` (`k` or `k=v`)."""
        deleted: list[str] = []
        reclaimed = 0
        with self.containers.locked(), self.volumes.locked():
            records = self.containers.all()
            for volume in self.volumes.all():
                if users_of(records, volume.name) or (anonymous_only and not volume.anonymous):
                    continue
                if not label_matches(
                    dict(o.partition("=")[::2] for o in volume.labels), list(labels)
                ):
                    continue
                reclaimed += disk_usage(volume.mountpoint)
                self.volumes.delete(volume.name)
                deleted.append(volume.name)
            self.volumes.sweep()
        return PruneReport(tuple(deleted), reclaimed)


def _from_others(host: HostConfig, store: ContainerStore) -> Iterator[MountSpec]:
    """`--volumes-from C[:ro|rw]`: C's binds and volumes at the same places."""
    for ref in host.volumes_from:
        name, _, mode = ref.partition(":")
        try:
            other = store.find(name)
        except NoSuchContainerError:
            raise NoSuchContainerError(name) from None
        for spec in other.host.mounts:
            if spec.type == "tmpfs":
                continue
            yield dataclasses.replace(spec, readonly=spec.readonly if not mode else mode == "ro")


def name_volumes(
    host: HostConfig, store: ContainerStore, volumes: VolumeStore, undo: ExitStack
) -> HostConfig:
    """The host config of a container being created, every volume named and made (anonymous
    ones get a new id); the volumes it made are removed by `undo` if the create fails. Call
    with the container store's lock held."""
    explicit = {s.target for s in host.mounts}
    inherited = [s for s in _from_others(host, store) if s.target not in explicit]
    specs = list(host.mounts) + inherited
    check_unique(specs)
    named: list[MountSpec] = []
    for spec in specs:
        if (
            spec.type == "bind"
            and spec.origin == FROM_MOUNT_FLAG
            and not os.path.exists(spec.source)
        ):
            # `--mount` refuses a missing source at create, where `-v` makes it (at start).
            raise InvalidOptionError(
                'invalid mount config for type "bind": bind source path does not exist: '
                f"{spec.source}"
            )
    with volumes.locked():
        for spec in specs:
            if spec.type == "volume":
                if not spec.source:
                    spec = dataclasses.replace(spec, source=os.urandom(32).hex(), anonymous=True)
                _volume, made = volumes.ensure(
                    spec.source,
                    labels=spec.volume_labels,
                    options=spec.volume_options,
                    anonymous=spec.anonymous,
                )
                if made:
                    undo.callback(_delete_locked, volumes, spec.source)
            named.append(spec)
    return dataclasses.replace(host, mounts=tuple(named))


def _delete_locked(volumes: VolumeStore, name: str) -> None:
    with volumes.locked():
        volumes.delete(name)


def remove_anonymous(record: ContainerRecord, store: ContainerStore, volumes: VolumeStore) -> None:
    """`rm -v` and `--rm`: the container's anonymous volumes that no other container uses (as
    Docker, named volumes stay). Call with the container store's lock held."""
    mine = [m.source for m in record.host.mounts if m.type == "volume" and m.anonymous]
    if not mine:
        return
    others = [r for r in store.all() if r.id != record.id]
    with volumes.locked():
        for name in mine:
            if not users_of(others, name):
                volumes.delete(name)
