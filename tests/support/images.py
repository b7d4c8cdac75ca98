"""Builders for image tests: layer tars, `docker save` and OCI layout archives, a temp root.

The archives are built here from the formats' descriptions (manifest.json + config + layer tars;
oci-layout + index.json + blobs/sha256), so the tests need no docker and no registry.
"""

import contextlib
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.images import mounts
from engine.images.model import host_architecture


@dataclass
class Entry:
    """One member of a layer tar."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    mode: int = 0o644
    target: str = ""


def file(name: str, data: bytes | str = b"", mode: int = 0o644) -> Entry:
    return Entry(name, data.encode() if isinstance(data, str) else data, tarfile.REGTYPE, mode)


def directory(name: str, mode: int = 0o755) -> Entry:
    return Entry(name, kind=tarfile.DIRTYPE, mode=mode)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, kind=tarfile.SYMTYPE, mode=0o777, target=target)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, kind=tarfile.LNKTYPE, target=target)


def layer_tar(entries: Sequence[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type, info.mode, info.linkname = e.kind, e.mode, e.target
            info.size = len(e.data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_blob(layers: Sequence[bytes], config: dict[str, Any] | None = None) -> bytes:
    doc = {
        "architecture": host_architecture(),
        "os": "linux",
        "created": "2024-05-01T12:00:00.123456789Z",
        "config": config or {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
    }
    return json.dumps(doc).encode()


def _archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class ImageSpec:
    """An image to put in an archive: its layers (plain tars), run config and tags."""

    layers: list[bytes]
    config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    gzip_layers: bool = False

    def blob(self) -> bytes:
        return config_blob(self.layers, self.config)

    def layer_blobs(self) -> list[bytes]:
        return [gzip.compress(x, mtime=0) if self.gzip_layers else x for x in self.layers]


def docker_save(images: Sequence[ImageSpec], *, extra: dict[str, bytes] | None = None) -> bytes:
    """The classic `docker save` layout: manifest.json, <id>.json, <layer id>/layer.tar."""
    files: dict[str, bytes] = {}
    manifest = []
    for spec in images:
        blob = spec.blob()
        config_name = sha256(blob).removeprefix("sha256:") + ".json"
        files[config_name] = blob
        names = []
        for data in spec.layer_blobs():
            name = f"{hashlib.sha256(data).hexdigest()}/layer.tar"
            files[name] = data
            names.append(name)
        manifest.append({"Config": config_name, "RepoTags": spec.tags, "Layers": names})
    files["manifest.json"] = json.dumps(manifest).encode()
    files.update(extra or {})
    return _archive(files)


def oci_layout(images: Sequence[ImageSpec], *, nested_index: bool = False) -> bytes:
    """An OCI image layout: oci-layout, index.json, blobs/sha256/<hex>."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}

    def put(data: bytes) -> str:
        digest = sha256(data)
        files["blobs/sha256/" + digest.removeprefix("sha256:")] = data
        return digest

    descriptors = []
    for spec in images:
        blob = spec.blob()
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if spec.gzip_layers else "")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(blob),
                "size": len(blob),
            },
            "layers": [
                {"mediaType": media, "digest": put(d), "size": len(d)} for d in spec.layer_blobs()
            ],
        }
        data = json.dumps(manifest).encode()
        desc: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(data),
            "size": len(data),
            "platform": {"os": "linux", "architecture": host_architecture()},
        }
        if nested_index:
            inner = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
            desc = {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": put(inner),
                "size": len(inner),
            }
        if spec.tags:
            desc["annotations"] = {
                "io.containerd.image.name": spec.tags[0],
                "org.opencontainers.image.ref.name": spec.tags[0].rpartition(":")[2],
            }
        descriptors.append(desc)
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": descriptors}).encode()
    return _archive(files)


class RecordingWhiteouts:
    """Stands in for mknod/setxattr (which need root): records what would be written."""

    def __init__(self) -> None:
        self.whiteouts: list[Path] = []
        self.opaques: list[Path] = []

    def whiteout(self, path: Path) -> None:
        self.whiteouts.append(path)

    def opaque(self, directory: Path) -> None:
        self.opaques.append(directory)


def tree(root: Path) -> list[str]:
    """Every path below `root`, relative and sorted, for comparing before and after."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def leftovers(root: Path) -> list[str]:
    """What a failed operation must not leave: staging dirs, layers, images, tags."""
    images = root / "images"
    found = []
    for sub in ("tmp", "layers", "imagedb"):
        if (images / sub).is_dir():
            found += [f"{sub}/{p.name}" for p in (images / sub).iterdir()]
    refs = images / "repositories.json"
    if refs.exists() and json.loads(refs.read_text())["refs"]:
        found.append("refs")
    return found


@contextlib.contextmanager
def engine_root(base: Path) -> Iterator[Path]:
    """A throwaway engine root; every mount under it is unmounted and the tree removed."""
    root = base / "pyengine-root"
    root.mkdir()
    try:
        yield root
    finally:
        for point in mounts.mounted_under(root):
            with contextlib.suppress(OSError):
                mounts.unmount(point)
        shutil.rmtree(root, ignore_errors=True)
