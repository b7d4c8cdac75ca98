"""What the engine and the CLI call: find, list, tag, remove and prune images.

Lookups follow Docker: a full id, then a reference (`busybox` is `busybox:latest`), then a unique
id prefix (`a416a98b`, `sha256:a416`). `resolve` also builds the default busybox image on first
use; the listing commands never do, as `docker images` never pulls.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.images.errors import (
    AmbiguousImageError,
    ImageConflictError,
    ImageNotFoundError,
    InvalidReferenceError,
)
from engine.images.model import Image, parse_time
from engine.images.reference import Reference, full_id, id_prefix, parse, short_id
from engine.images.store import Store, hex_of
from engine.images.users import ImageUser, ImageUsers, UsersDir


def lookup(store: Store, text: str) -> tuple[str, Reference | None]:
    """The image id `text` names, and the tag it was named by (None for an id). Under lock."""
    if not text:
        raise InvalidReferenceError("invalid reference format: empty image name")
    found = full_id(text)
    if found is not None:
        if store.has_image(found):
            return found, None
        raise ImageNotFoundError(text)
    try:
        ref: Reference | None = parse(text)
    except InvalidReferenceError:
        if id_prefix(text) is None:
            raise
        ref = None
    if ref is not None and not ref.digest:
        image_id = store.refs().get(str(ref))
        if image_id is not None and store.has_image(image_id):
            return image_id, ref
    prefix = id_prefix(text)
    if prefix is not None:
        matches = [i for i in store.image_ids() if hex_of(i).startswith(prefix)]
        if len(matches) > 1:
            raise AmbiguousImageError(f"multiple images match the short id {text}")
        if matches:
            return matches[0], None
    raise ImageNotFoundError(text)


def find(root: Path, text: str) -> Image:
    """The stored image `text` names; never builds anything."""
    store = Store(root)
    with store.locked(shared=True):
        return store.image(lookup(store, text)[0])


def resolve(root: Path, text: str, *, busybox_binary: Path | None = None) -> Image:
    """The image for `run`/`create`: as `find`, building the default busybox on first use."""
    try:
        return find(root, text)
    except ImageNotFoundError:
        # Only now: the builder pulls in tarfile and the compressors, which lookups never need.
        from engine.images import busybox  # noqa: PLC0415

        if not busybox.is_default(text):
            raise
        busybox.ensure_busybox(root, busybox_binary or busybox.BUSYBOX)
    return find(root, text)


def list_images(root: Path, repository: str | None = None) -> list[Image]:
    """Images newest first; with `repository` (`busybox` or `busybox:1.36`), only those tags."""
    store = Store(root)
    with store.locked(shared=True):
        images = store.images()
    if repository:
        want = parse(repository)
        tagged = ":" in repository.rpartition("/")[2]

        def keep(tag: str) -> bool:
            ref = parse(tag)
            return ref.repository == want.repository and (not tagged or ref.tag == want.tag)

        images = [i for i in images if any(keep(t) for t in i.tags)]
    stamp = {i.id: i.created.timestamp() if i.created else 0.0 for i in images}
    return sorted(images, key=lambda i: (-stamp[i.id], i.id))


def tag(root: Path, source: str, target: str) -> str:
    """Point the reference `target` at the image `source` names; returns the image id."""
    new = str(parse(target))
    store = Store(root)
    with store.locked():
        image_id, _ = lookup(store, source)
        refs = store.refs()
        refs[new] = image_id
        store.write_refs(refs)
    return image_id


@dataclass(frozen=True, slots=True)
class Removal:
    """What `remove` or `prune` did, in Docker's words (`Untagged: x`, `Deleted: sha256:...`)."""

    untagged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    reclaimed: int = 0

    def lines(self) -> list[str]:
        return [f"Untagged: {t}" for t in self.untagged] + [f"Deleted: {d}" for d in self.deleted]


def _conflict(image_id: str, users: Sequence[ImageUser], force: bool) -> None:
    running = [u for u in users if u.running]
    if running:
        raise ImageConflictError(
            f"conflict: unable to delete {short_id(image_id)} (cannot be forced) - image is "
            f"being used by running container {short_id(running[0].container_id)}"
        )
    if users and not force:
        raise ImageConflictError(
            f"conflict: unable to delete {short_id(image_id)} (must be forced) - image is "
            f"being used by stopped container {short_id(users[0].container_id)}"
        )


def remove(
    root: Path, text: str, *, force: bool = False, users: ImageUsers | None = None
) -> Removal:
    """`docker rmi`: untag a reference, and delete the image once no tag is left.

    By id, an image with tags in several repositories needs `force`; a container using the
    image stops the deletion unless `force`, and a running one even then.
    """
    users = users or UsersDir(root)
    store = Store(root)
    with store.locked():
        image_id, ref = lookup(store, text)
        refs = store.refs()
        own = sorted(r for r, i in refs.items() if i == image_id)
        using = list(users.users(image_id))
        if ref is not None:
            if len(own) > 1:
                del refs[str(ref)]
                store.write_refs(refs)
                return Removal(untagged=(ref.familiar(),))
            if using and not force:
                raise ImageConflictError(
                    f'conflict: unable to remove repository reference "{text}" (must force) - '
                    f"container {short_id(using[0].container_id)} is using its referenced "
                    f"image {short_id(image_id)}"
                )
        elif len({parse(r).repository for r in own}) > 1 and not force:
            raise ImageConflictError(
                f"conflict: unable to delete {short_id(image_id)} (must be forced) - image is "
                "referenced in multiple repositories"
            )
        _conflict(image_id, using, force)
        return _delete(store, image_id, own)


def _delete(store: Store, image_id: str, own: list[str]) -> Removal:
    order = list(reversed(store.image(image_id, {}).layers))  # top first, as Docker prints
    store.delete_image(image_id)
    layers = sorted(
        store.collect_layers(), key=lambda r: order.index(r[0]) if r[0] in order else len(order)
    )
    return Removal(
        untagged=tuple(parse(r).familiar() for r in own),
        deleted=(image_id, *(diff_id for diff_id, _ in layers)),
        reclaimed=sum(size for _, size in layers),
    )


def prune(root: Path, *, all_images: bool = False, users: ImageUsers | None = None) -> Removal:
    """`docker image prune [-a]`: remove untagged (or all) images that no container uses."""
    users = users or UsersDir(root)
    store = Store(root)
    untagged: list[str] = []
    deleted: list[str] = []
    reclaimed = 0
    with store.locked():
        store.remove_stale_staging()
        for image in store.images():
            if (image.tags and not all_images) or users.users(image.id):
                continue
            done = _delete(store, image.id, [str(parse(t)) for t in image.tags])
            untagged += done.untagged
            deleted += done.deleted
            reclaimed += done.reclaimed
        # layers kept only by container roots that have since been released
        for diff_id, size in store.collect_layers():
            deleted.append(diff_id)
            reclaimed += size
    return Removal(tuple(untagged), tuple(deleted), reclaimed)


def inspect(root: Path, text: str) -> dict[str, Any]:
    """`docker image inspect`'s object for one image."""
    store = Store(root)
    with store.locked(shared=True):
        image_id, _ = lookup(store, text)
        image = store.image(image_id)
        doc = json.loads(store.config_blob(image_id))
    return {
        "Id": image.id,
        "RepoTags": list(image.tags),
        "RepoDigests": [],
        "Parent": "",
        "Comment": doc.get("comment", ""),
        "Created": doc.get("created", ""),
        "Author": doc.get("author", ""),
        "Config": doc.get("config") or {},
        "Architecture": image.architecture,
        "Os": image.os,
        "Size": image.size,
        "RootFS": {"Type": "layers", "Layers": list(image.layers)},
    }


def history(root: Path, text: str) -> list[dict[str, Any]]:
    """`docker history`'s entries, newest first: the config's history, each step that made a
    layer given that layer's size; the newest is the image itself, the others `<missing>`
    (their own images are not kept), as Docker shows a pulled image."""
    image = resolve(root, text)
    store = Store(root)
    with store.locked(shared=True):
        doc = json.loads(store.config_blob(image.id))
        sizes = [store.layer_size(d) for d in image.layers]
    steps = doc.get("history") or [{"created": doc.get("created", "")} for _ in image.layers]
    entries = []
    layer = 0
    for step in steps:
        size = 0
        if not step.get("empty_layer") and layer < len(sizes):
            size = sizes[layer]
            layer += 1
        created = parse_time(step.get("created"))
        entries.append({
            "Id": "<missing>",
            "Created": int(created.timestamp()) if created else 0,
            "CreatedBy": step.get("created_by", ""),
            "Tags": None,
            "Size": size,
            "Comment": step.get("comment", ""),
        })  # fmt: skip
    entries.reverse()
    if entries:
        entries[0] |= {"Id": image.id, "Tags": list(image.tags) or None}
    return entries
