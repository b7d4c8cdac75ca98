"""The content-addressed image store under `<root>/images`, shared by concurrent processes.

    images/.lock                     flock: exclusive for every change, shared for reads
    images/repositories.json         {"refs": {"docker.io/library/busybox:latest": "sha256:..."}}
    images/imagedb/<hex>/config      the config blob, byte for byte (its sha256 is the id)
    images/layers/<hex>/diff/        one unpacked layer, named by its diff id; shared by images
    images/layers/<hex>/size         bytes of file content, for `docker images` SIZE
    images/users/<image hex>/<cid>   one empty file per container using the image
    images/tmp/<pid>-*               private staging; renamed into place or removed
    rootfs/<cid>/layers              the diff ids a container's overlay mounts (see rootfs.py)

Layers and images are unpacked or written into `tmp/` first and renamed into place under the
lock, so a crash leaves either nothing or a complete entry; stale staging dirs of dead processes
are removed by the next writer. A layer stays while an image or a container rootfs lists it.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine import defaults
from engine.images.errors import StoreError
from engine.images.model import Image, image_from_blob
from engine.images.mounts import syncfs
from engine.images.reference import parse
from netns.flock import flocked

ROOTFS_DIR = "rootfs"
ROOTFS_LAYERS = "layers"


def default_root() -> Path:
    """The engine's state root (engine.defaults) as a Path; only the CLI calls this."""
    return Path(defaults.default_root())


def hex_of(digest: str) -> str:
    return digest.removeprefix("sha256:")


@dataclass(frozen=True, slots=True)
class PendingLayer:
    """A layer unpacked into staging (`path`), or already in the store (`path` is None)."""

    diff_id: str
    path: Path | None
    size: int


class Store:
    """One engine root's images; every method takes what it needs from the disk each time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "images"

    def __repr__(self) -> str:
        return f"Store({str(self.dir)!r})"

    @contextlib.contextmanager
    def locked(self, shared: bool = False) -> Iterator[None]:
        """Hold the store lock; writers must, readers should (entries vanish under rmi)."""
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(flocked(self.dir / ".lock", shared=shared))
            except OSError as exc:
                message = f"could not open the image store {self.dir}: {exc.strerror}"
                raise StoreError(message) from None
            yield

    # ---------------------------------------------------------------------------- staging

    def staging_dir(self) -> Path:
        """A new private directory on the store's filesystem, so a rename can publish it."""
        tmp = self.dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=tmp))

    def remove_stale_staging(self) -> None:
        """Staging dirs whose process is gone (a crash or a kill -9 mid-import). Under lock."""
        tmp = self.dir / "tmp"
        if not tmp.is_dir():
            return
        for entry in tmp.iterdir():
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(entry, ignore_errors=True)

    # ------------------------------------------------------------------------------ layers

    def layer_dir(self, diff_id: str) -> Path:
        """The unpacked tree of a layer (an overlayfs lowerdir)."""
        return self.dir / "layers" / hex_of(diff_id) / "diff"

    def has_layer(self, diff_id: str) -> bool:
        return self.layer_dir(diff_id).is_dir()

    def layer_size(self, diff_id: str) -> int:
        try:
            return int((self.dir / "layers" / hex_of(diff_id) / "size").read_text())
        except (OSError, ValueError):
            return 0

    def _publish_layer(self, layer: PendingLayer) -> None:
        if layer.path is None or self.has_layer(layer.diff_id):
            return
        home = layer.path.parent / "layer"
        home.mkdir()
        (home / "size").write_text(str(layer.size))
        layer.path.rename(home / "diff")
        (self.dir / "layers").mkdir(exist_ok=True)
        home.rename(self.dir / "layers" / hex_of(layer.diff_id))

    # ------------------------------------------------------------------------ references

    def refs(self) -> dict[str, str]:
        """Fully qualified reference -> image id."""
        try:
            doc = json.loads((self.dir / "repositories.json").read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"could not read {self.dir / 'repositories.json'}: {exc}") from None
        refs = doc.get("refs", {}) if isinstance(doc, dict) else {}
        return {str(k): str(v) for k, v in refs.items()}

    def write_refs(self, refs: dict[str, str]) -> None:
        """Replace the reference table atomically. Under lock."""
        self._write_atomic(self.dir / "repositories.json", json.dumps({"refs": refs}, indent=1))

    # ---------------------------------------------------------------------------- images

    def image_ids(self) -> list[str]:
        db = self.dir / "imagedb"
        if not db.is_dir():
            return []
        return sorted("sha256:" + entry.name for entry in db.iterdir() if len(entry.name) == 64)

    def has_image(self, image_id: str) -> bool:
        return (self.dir / "imagedb" / hex_of(image_id) / "config").is_file()

    def config_blob(self, image_id: str) -> bytes:
        return (self.dir / "imagedb" / hex_of(image_id) / "config").read_bytes()

    def image(self, image_id: str, refs: dict[str, str] | None = None) -> Image:
        """The record of a stored image with its familiar tags."""
        refs = self.refs() if refs is None else refs
        tags = tuple(sorted(parse(r).familiar() for r, i in refs.items() if i == image_id))
        record = image_from_blob(image_id, self.config_blob(image_id), 0, tags)
        return dataclasses.replace(record, size=sum(self.layer_size(d) for d in record.layers))

    def images(self) -> list[Image]:
        refs = self.refs()
        found = []
        for image_id in self.image_ids():
            with contextlib.suppress(OSError):
                found.append(self.image(image_id, refs))
        return found

    def commit(
        self, blob: bytes, layers: list[PendingLayer], tags: list[str]
    ) -> tuple[str, dict[str, str]]:
        """Publish layers, the config blob and tags as one step. Under lock.

        Returns the image id and the tags taken from other images ({ref: old id}).
        """
        image_id = "sha256:" + hashlib.sha256(blob).hexdigest()
        try:
            staging = None
            if not self.has_image(image_id):
                staging = self.staging_dir()
                (staging / "config").write_bytes(blob)
            if staging is not None or any(x.path is not None for x in layers):
                # On disk before a name points at it: a power cut after the renames must not
                # publish a layer of empty files (a rename is atomic, its data is not durable).
                syncfs(self.dir)
            for layer in layers:
                self._publish_layer(layer)
            if staging is not None:
                (self.dir / "imagedb").mkdir(exist_ok=True)
                staging.rename(self.dir / "imagedb" / hex_of(image_id))
            refs = self.refs()
            displaced = {t: refs[t] for t in tags if refs.get(t, image_id) != image_id}
            if tags:
                refs.update(dict.fromkeys(tags, image_id))
                self.write_refs(refs)
        except OSError as exc:
            raise StoreError(f"could not write to the image store: {exc}") from None
        return image_id, displaced

    def delete_image(self, image_id: str) -> None:
        """Forget an image and its tags (layers go in `collect_layers`). Under lock."""
        refs = self.refs()
        kept = {r: i for r, i in refs.items() if i != image_id}
        if kept != refs:
            self.write_refs(kept)
        self._discard(self.dir / "imagedb" / hex_of(image_id))

    def collect_layers(self) -> list[tuple[str, int]]:
        """Remove layers no image and no container rootfs lists; returns (diff id, size)."""
        wanted: set[str] = set()
        for image_id in self.image_ids():
            with contextlib.suppress(OSError, ValueError):
                wanted.update(self.image(image_id, {}).layers)
        rootfs = self.root / ROOTFS_DIR
        if rootfs.is_dir():
            for entry in rootfs.iterdir():
                with contextlib.suppress(OSError):
                    wanted.update((entry / ROOTFS_LAYERS).read_text().split())
        removed = []
        layers = self.dir / "layers"
        if layers.is_dir():
            for entry in layers.iterdir():
                diff_id = "sha256:" + entry.name
                if diff_id not in wanted:
                    size = self.layer_size(diff_id)
                    self._discard(entry)
                    removed.append((diff_id, size))
        return removed

    def _discard(self, path: Path) -> None:
        """Rename out of sight first, so a crash mid-delete leaves no half entry in place."""
        if not path.exists():
            return
        doomed = self.staging_dir()
        path.rename(doomed / "doomed")
        shutil.rmtree(doomed, ignore_errors=True)

    def _write_atomic(self, path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
