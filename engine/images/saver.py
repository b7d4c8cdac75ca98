"""`save`: images as a docker-archive tar (`manifest.json`, each config, each layer as
`<diff id>/layer.tar`), which `docker load` and our `load` read.

The store keeps layers unpacked, not as the tars they came in, so each layer is written again
from its tree, canonically (entries sorted, overlayfs whiteouts turned back into `.wh.` files,
hard links kept). A layer written that way has the digest it came with when it was written
that way to begin with (our busybox); for any other, the saved config names the new digests,
so `docker load` verifies every layer, and the image it loads has its own id.
"""

import contextlib
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from engine.images.api import lookup, resolve
from engine.images.reference import parse
from engine.images.store import Store, hex_of

OPAQUE_XATTR = "trusted.overlay.opaque"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _entries(root: Path) -> Iterator[tuple[str, str]]:
    """(archive name, host path) of every entry under `root` but sockets, which a tar cannot
    hold; sorted by name, so parents come before children."""
    found = []
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                found.append((name if relative == "." else f"{relative}/{name}", path))
    return iter(sorted(found))


def write_tree(root: Path, out: IO[bytes]) -> None:
    """One tar of the tree `root` (an unpacked layer, or a container's root for `export`),
    canonically; overlayfs whiteouts become `.wh.` entries."""
    links: dict[tuple[int, int], str] = {}
    # GNU format, root's names for id 0 and mtimes as unpacked: the form our busybox was written
    # in (engine/images/busybox.py), so that a saved busybox keeps its image id.
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for name, path in _entries(root):
            st = os.lstat(path)
            parent, _, base = name.rpartition("/")
            if _is_whiteout(st):
                info = tarfile.TarInfo(f"{parent}/{WHITEOUT}{base}" if parent else WHITEOUT + base)
                info.mtime, info.mode = int(st.st_mtime), 0o600
                tar.addfile(info)
                continue
            info = tar.gettarinfo(path, arcname=name)
            info.uname = "root" if info.uid == 0 else ""
            info.gname = "root" if info.gid == 0 else ""
            info.mtime = int(st.st_mtime)
            if info.isreg() and st.st_nlink > 1:
                first = links.setdefault((st.st_dev, st.st_ino), name)
                if first != name:
                    info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
            if info.isreg() and info.type != tarfile.LNKTYPE:
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            if info.isdir() and _opaque(path):
                marker = tarfile.TarInfo(f"{name}/{OPAQUE}")
                marker.mtime, marker.mode = int(st.st_mtime), 0o600
                tar.addfile(marker)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def save(root: Path, names: Sequence[str], out: IO[bytes]) -> None:
    """Write the images `names` (references or ids) as one docker-archive to `out`."""
    for text in names:
        resolve(root, text)  # the default busybox is made on first use, here too
    store = Store(root)
    with store.locked(shared=True), tempfile.TemporaryDirectory(dir=root) as scratch:
        chosen: list[tuple[str, str | None]] = []
        for text in names:
            image_id, ref = lookup(store, text)
            chosen.append((image_id, str(ref) if ref else None))
        written: dict[str, str] = {}  # diff id in the store -> the digest of the tar written
        manifest: list[dict[str, Any]] = []
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for image_id in dict.fromkeys(i for i, _ in chosen):
                config = json.loads(store.config_blob(image_id))
                layers = []
                for diff_id in config["rootfs"]["diff_ids"]:
                    if diff_id not in written:
                        tmp = Path(scratch) / hex_of(diff_id)
                        with open(tmp, "wb") as f:
                            write_tree(store.layer_dir(diff_id), f)
                        written[diff_id] = _digest(tmp)
                        archive.add(tmp, arcname=f"{hex_of(written[diff_id])}/layer.tar")
                        tmp.unlink()
                    layers.append(f"{hex_of(written[diff_id])}/layer.tar")
                config["rootfs"]["diff_ids"] = [written[d] for d in config["rootfs"]["diff_ids"]]
                blob = store.config_blob(image_id)
                if config["rootfs"]["diff_ids"] != json.loads(blob)["rootfs"]["diff_ids"]:
                    blob = json.dumps(config, separators=(",", ":")).encode()
                saved_id = hashlib.sha256(blob).hexdigest()
                _add_bytes(archive, f"{saved_id}.json", blob)
                tags = [parse(r).familiar() for i, r in chosen if i == image_id and r]
                manifest.append(
                    {"Config": f"{saved_id}.json", "RepoTags": tags or None, "Layers": layers}
                )
            _add_bytes(archive, "manifest.json", json.dumps(manifest).encode())


@contextlib.contextmanager
def saved(root: Path, names: Sequence[str]) -> Iterator[IO[bytes]]:
    """The archive in a temporary file, rewound (the API streams it)."""
    with tempfile.TemporaryFile(dir=root) as f:
        save(root, names, f)
        f.seek(0)
        yield f
