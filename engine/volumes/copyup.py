"""Docker's copy-up: a new, empty volume mounted where the image has content gets a copy of it
(owner, mode, links and special files included), unless the mount says `nocopy`."""

import os
import subprocess
from pathlib import Path

from engine.volumes.errors import VolumeError


def is_empty(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def copy_up(source: Path, data: Path) -> bool:
    """Copy the directory `source` (already resolved inside the container's root) into the
    empty volume directory `data`, and give `data` its owner and mode; whether it copied."""
    if not source.is_dir() or source.is_symlink() or not is_empty(data):
        return False
    # cp -a keeps owners, modes, times, links, devices and xattrs, and never follows a link
    # out of the image; "src/." copies the directory's own attributes onto `data` as well.
    done = subprocess.run(
        ["cp", "-a", "--", f"{source}/.", f"{data}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise VolumeError(f"copying image content into the volume failed: {done.stderr.strip()}")
    return True
