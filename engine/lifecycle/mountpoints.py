"""A container's mounts made real at start: volume directories (mounted and filled from the
image when new), host directories for `-v`, tmpfs options, and the OCI `mounts` entries.

Mount points are found inside the container's root as the container will see them: an absolute
symlink on the way means that path in the container (Docker's FollowSymlinkInScope, runc's
securejoin), and one that climbs out of the root with `..` is refused rather than clamped, so
an image cannot point a mount at the host's files.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.containers.errors import InvalidOptionError
from engine.containers.mounts import FROM_VOLUME_FLAG, MountSpec
from engine.volumes.copyup import copy_up
from engine.volumes.store import VolumeStore

MAX_LINKS = 255  # as the kernel's path walk (and Docker's) gives up
TMPFS_DEFAULTS = ("nosuid", "nodev", "noexec")


class EscapingMountError(InvalidOptionError):
    """A mount point whose symlinks lead out of the container's root."""


def resolve_in_root(root: Path, target: str) -> Path:
    """The host path of `target` inside `root`, following symlinks as the container would."""
    parts = [p for p in target.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if not done:
                raise EscapingMountError(
                    f"mount destination {target} escapes the container's root through a symlink"
                )
            done.pop()
            continue
        here = root.joinpath(*done, part)
        if not here.is_symlink():
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise InvalidOptionError(f"mount destination {target}: too many levels of symlinks")
        link = os.readlink(here)
        if link.startswith("/"):
            done = []  # absolute: from the container's root, not the host's
        parts = [p for p in link.split("/") if p not in ("", ".")] + parts
    return root.joinpath(*done)


def _tmpfs_options(spec: MountSpec) -> list[str]:
    options = [o for o in TMPFS_DEFAULTS if not _overridden(o, spec.tmpfs_options)]
    options += list(spec.tmpfs_options)
    if spec.tmpfs_size:
        options.append(f"size={spec.tmpfs_size}")
    if spec.tmpfs_mode:
        options.append(f"mode={spec.tmpfs_mode:o}")
    if spec.readonly:
        options.append("ro")
    return options


def _overridden(default: str, given: Sequence[str]) -> bool:
    """`exec` undoes `noexec`, `suid` undoes `nosuid`, `dev` undoes `nodev`."""
    return default in given or default.removeprefix("no") in given


def prepare(specs: Sequence[MountSpec], rootfs: Path, volumes: VolumeStore) -> list[dict[str, Any]]:
    """The OCI mounts for `specs`, parents before children; volumes mounted and copied up,
    `-v` host directories made. Raises before anything is mounted into the container."""
    mounts: list[dict[str, Any]] = []
    for spec in sorted(specs, key=lambda s: s.target.count("/")):
        inside = resolve_in_root(rootfs, spec.target)
        destination = "/" + str(inside.relative_to(rootfs)) if inside != rootfs else "/"
        if spec.type == "tmpfs":
            mounts.append(
                {"destination": destination, "type": "tmpfs", "source": "tmpfs",
                 "options": _tmpfs_options(spec)}
            )  # fmt: skip
            continue
        if spec.type == "volume":
            volume = volumes.get(spec.source)
            volumes.ensure_mounted(volume)
            source = Path(volume.mountpoint)
            if not spec.nocopy and not volume.option("type"):
                copy_up(inside, source)
        else:
            source = Path(spec.source)
            if not source.exists():
                if spec.origin != FROM_VOLUME_FLAG:
                    raise InvalidOptionError(
                        'invalid mount config for type "bind": bind source path does not '
                        f"exist: {spec.source}"
                    )
                source.mkdir(parents=True, exist_ok=True)  # -v makes it, as Docker does
        options = ["rbind", "ro" if spec.readonly else "rw", spec.propagation or "rprivate"]
        mounts.append(
            {"destination": destination, "type": "bind", "source": str(source), "options": options}
        )
    return mounts
