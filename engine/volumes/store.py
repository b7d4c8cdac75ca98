"""The local driver's volumes: `$PYENGINE_ROOT/volumes/NAME/_data`, described by
`NAME/volume.json` (0600: a volume's options can name a device or carry credentials).

A volume appears whole or not at all (made under a temporary name, then renamed) and goes the
same way (renamed away, then deleted), so a command killed midway never leaves half a volume
that `ls` would show. Every change holds the store's lock; `delete` tolerates absence.

With driver options (`-o type=tmpfs`, `-o type=none,o=bind,device=/path`), the volume's
`_data` is a mount point: mounted when a container first needs it (`ensure_mounted`) and
unmounted when the volume is removed. Docker's local driver unmounts when its last user stops;
we keep it mounted until removal (a tmpfs volume keeps its files across its users' restarts,
which Docker's does not), and say so in the volume's `Status`.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.containers.errors import InvalidOptionError
from engine.containers.mounts import check_volume_name
from engine.private import ensure_private_dir, write_private
from engine.volumes.errors import InvalidVolumeError, NoSuchVolumeError
from netns import libc
from netns.flock import flocked

DRIVER = "local"
OPTION_KEYS = ("type", "device", "o")
MS_BIND = 4096
DATA = "_data"


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume and where its data lives."""

    name: str
    mountpoint: str
    created: float
    labels: tuple[str, ...] = ()  # `key=value`
    options: tuple[str, ...] = ()  # the local driver's `-o key=value`
    anonymous: bool = False
    driver: str = DRIVER

    def option(self, key: str) -> str:
        return next((v for k, _, v in (o.partition("=") for o in self.options) if k == key), "")


def _pairs(items: Sequence[str], what: str) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidVolumeError(f"invalid {what}: {item!r}")
        merged[key] = value
    return tuple(f"{k}={v}" for k, v in merged.items())


class VolumeStore:
    """The volumes of one engine root."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "volumes"

    def __repr__(self) -> str:
        return f"VolumeStore({str(self.dir)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        ensure_private_dir(self.dir)
        with flocked(self.dir / ".lock"):
            yield

    def path(self, name: str) -> Path:
        return self.dir / name

    def ensure(
        self,
        name: str,
        *,
        labels: Sequence[str] = (),
        options: Sequence[str] = (),
        anonymous: bool = False,
        driver: str = DRIVER,
    ) -> tuple[Volume, bool]:
        """The volume `name`, made if missing (Docker returns an existing one as it is);
        whether this call made it. Call with the lock held."""
        try:
            check_volume_name(name)
        except InvalidOptionError as exc:
            raise InvalidVolumeError(str(exc)) from None
        if driver not in ("", DRIVER):
            raise InvalidVolumeError(
                f'error looking up volume plugin {driver}: plugin "{driver}" not found'
            )
        found = self.find(name)
        if found is not None:
            return found, False
        opts = _pairs(options, "volume option")
        for key in (o.partition("=")[0] for o in opts):
            if key not in OPTION_KEYS:
                raise InvalidVolumeError(f'invalid option key: "{key}"')
        volume = Volume(
            name,
            str(self.path(name) / DATA),
            time.time(),
            _pairs(labels, "label"),
            opts,
            anonymous,
        )
        if (
            volume.option("type")
            and not volume.option("device")
            and volume.option("type") != "tmpfs"
        ):
            raise InvalidVolumeError(f"missing device in volume options for {name}")
        ensure_private_dir(self.dir)
        staging = self.dir / f".new-{name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        (staging / DATA).mkdir(mode=0o755)
        os.chmod(staging / DATA, 0o755)  # whatever the umask: containers' users read it
        write_private(staging / "volume.json", json.dumps(dataclasses.asdict(volume)))
        os.rename(staging, self.path(name))
        return volume, True

    def find(self, name: str) -> Volume | None:
        try:
            data = json.loads((self.path(name) / "volume.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            return None  # not one of ours (made by hand, or half written by a crash)
        for key in ("labels", "options"):
            data[key] = tuple(data.get(key) or ())
        return Volume(**data)

    def get(self, name: str) -> Volume:
        found = self.find(name) if name and "/" not in name and not name.startswith(".") else None
        if found is None:
            raise NoSuchVolumeError(name)
        return found

    def all(self) -> list[Volume]:
        try:
            names = sorted(p.name for p in self.dir.iterdir() if not p.name.startswith("."))
        except FileNotFoundError:
            return []
        return [v for v in map(self.find, names) if v is not None]

    def ensure_mounted(self, volume: Volume) -> None:
        """Mount a volume that has driver options over its `_data`, once."""
        kind = volume.option("type")
        if not kind or os.path.ismount(volume.mountpoint):
            return
        data = volume.option("o")
        words = [w for w in data.split(",") if w]
        flags = MS_BIND if "bind" in words else 0
        rest = ",".join(w for w in words if w not in ("bind", "rbind"))
        source = volume.option("device") or kind
        try:
            libc.mount(source, volume.mountpoint, "" if flags else kind, flags, rest)
        except OSError as exc:
            raise InvalidVolumeError(
                f"error while mounting volume '{volume.mountpoint}': {exc.strerror}"
            ) from None

    def delete(self, name: str) -> None:
        """Remove the volume and its data (unmounted first); absent is fine. With the lock."""
        path = self.path(name)
        if not path.exists():
            return
        data = path / DATA
        while os.path.ismount(data):
            libc.umount2(data, 2)  # MNT_DETACH: a process still inside must not keep it
        doomed = self.dir / f".rm-{name}-{os.getpid()}"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def sweep(self) -> None:
        """Finish what killed commands left: half-made and half-removed volumes."""
        with contextlib.suppress(FileNotFoundError):
            for leftover in self.dir.iterdir():
                if leftover.name.startswith((".new-", ".rm-")):
                    shutil.rmtree(leftover, ignore_errors=True)
