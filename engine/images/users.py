"""Which containers use an image, so `rmi` can refuse to pull an image out from under them.

The store keeps one empty file per (image, container) under `images/users/<image hex>/`;
`rootfs.prepare` adds it and `rootfs.release` removes it, and the engine may mark a container at
create time before its rootfs exists. Whoever knows more (the engine knows which containers
run) passes its own `ImageUsers` to `api.remove`.
"""

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.images.errors import RootfsError
from engine.images.store import Store, hex_of

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ImageUser:
    """A container that uses an image; a running one cannot lose it even with `rmi -f`."""

    container_id: str
    running: bool = False


class ImageUsers(Protocol):
    """Reports the containers using an image."""

    def users(self, image_id: str) -> Sequence[ImageUser]: ...


def check_container_id(container_id: str) -> str:
    """Container ids become path names: refuse anything that is not one plain name."""
    if not _CONTAINER_ID.match(container_id):
        raise RootfsError(f"invalid container id: {container_id!r}")
    return container_id


class UsersDir:
    """The store's own record of users (all reported as not running: it cannot know)."""

    def __init__(self, root: Path) -> None:
        self.store = Store(root)

    def users(self, image_id: str) -> Sequence[ImageUser]:
        folder = self._folder(image_id)
        if not folder.is_dir():
            return []
        return [ImageUser(entry.name) for entry in sorted(folder.iterdir())]

    def _folder(self, image_id: str) -> Path:
        return self.store.dir / "users" / hex_of(image_id)


def mark_used(root: Path, image_id: str, container_id: str) -> None:
    """Record that `container_id` uses `image_id` (idempotent), under the store lock so a
    concurrent `rmi` sees either no mark and deletes first, or the mark and refuses."""
    with Store(root).locked():
        mark_used_locked(root, image_id, container_id)


def mark_used_locked(root: Path, image_id: str, container_id: str) -> None:
    """`mark_used` for a caller that already holds the store lock (flock does not nest)."""
    folder = UsersDir(root)._folder(image_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / check_container_id(container_id)).touch()


def unmark_used(root: Path, container_id: str, image_id: str | None = None) -> None:
    """Forget a container's use of `image_id` (or of every image); absent is fine."""
    check_container_id(container_id)
    base = Store(root).dir / "users"
    folders = (
        [base / hex_of(image_id)] if image_id else (list(base.iterdir()) if base.is_dir() else [])
    )
    for folder in folders:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / container_id)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: keeps the tree small for `images`


class CombinedUsers:
    """Users reported by several sources (the store's marks and the engine's records)."""

    def __init__(self, *sources: ImageUsers) -> None:
        self.sources = sources

    def users(self, image_id: str) -> Sequence[ImageUser]:
        found: dict[str, ImageUser] = {}
        for source in self.sources:
            for user in source.users(image_id):
                if user.running or user.container_id not in found:
                    found[user.container_id] = user
        return sorted(found.values(), key=lambda u: u.container_id)
