"""Images as the CLI and the API server ask for them: list, inspect, tag, remove, prune, import
and load, over one store root, with who uses an image told by the caller's `users` (the engine
knows its containers; this package does not)."""

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from engine.images import api
from engine.images.importer import import_rootfs
from engine.images.loader import Loaded, load_archive
from engine.images.model import Image
from engine.images.saver import save
from engine.images.users import ImageUsers


class ImageService:
    """The images of one engine root."""

    def __init__(self, root: Path, users: ImageUsers) -> None:
        self.root = root
        self.users = users

    def images(self, repository: str | None = None) -> list[Image]:
        """Newest first; with `repository` (`busybox` or `busybox:1.36`), only those tags."""
        return api.list_images(self.root, repository)

    def inspect(self, name: str) -> dict[str, Any]:
        return api.inspect(self.root, name)

    def tag(self, source: str, target: str) -> str:
        return api.tag(self.root, source, target)

    def remove(self, name: str, *, force: bool = False) -> api.Removal:
        return api.remove(self.root, name, force=force, users=self.users)

    def prune(self, *, all_images: bool = False) -> api.Removal:
        return api.prune(self.root, all_images=all_images, users=self.users)

    def import_rootfs(
        self,
        source: IO[bytes],
        repository: str | None,
        *,
        changes: list[str],
        message: str = "",
        source_name: str = "-",
    ) -> str:
        """A one-layer image from a root filesystem tarball; its id."""
        return import_rootfs(
            self.root, source, repository, changes=changes, message=message,
            source_name=source_name,
        )  # fmt: skip

    def history(self, name: str) -> list[dict[str, Any]]:
        """`docker history`'s entries, newest first."""
        return api.history(self.root, name)

    def save(self, names: Sequence[str], out: IO[bytes]) -> None:
        """The images as one docker-archive (engine/images/saver.py), written to `out`."""
        save(self.root, names, out)

    def load(self, source: IO[bytes]) -> list[Loaded]:
        """Every image of a `docker save` or OCI layout archive."""
        return load_archive(self.root, source)
