"""`pyengine load`: images from a `docker save` archive or an OCI image layout archive.

A `docker save` archive has `manifest.json` (a list of {Config, RepoTags, Layers} naming files
in the archive); an OCI layout has `oci-layout`, `index.json` and `blobs/sha256/<hex>`, with
names in descriptor annotations. Docker 25+ writes both, and `manifest.json` wins, as in
`docker load`. Everything is validated and every layer unpacked (and checked against its diff
id) before anything is published, then all images are committed under one lock: a bad archive
changes nothing.
"""

import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.images.errors import ImageError, InvalidArchiveError
from engine.images.model import host_architecture, parse_config
from engine.images.reference import parse
from engine.images.staging import Staging
from engine.images.store import Store
from engine.images.streams import CHUNK, buffered, decompressed, sniff
from engine.images.unpack import Whiteouts

JSON_MAX = 16 << 20  # no manifest or config comes near this; a bigger one is an attack
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_INDEXES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, slots=True)
class Loaded:
    """One image that `load` published: its id, familiar tags, and tags it took over."""

    image_id: str
    tags: tuple[str, ...]
    displaced: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Plan:
    config: bytes
    layers: tuple[tuple[str, str, str | None], ...]  # (member name, diff id, blob digest)
    tags: tuple[str, ...]


class _Archive:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members = {posixpath.normpath(m.name.lstrip("/")): m for m in tar.getmembers()}

    def has(self, name: str) -> bool:
        return posixpath.normpath(name.lstrip("/")) in self.members

    def open(self, name: str) -> IO[bytes]:
        member = self.members.get(posixpath.normpath(name.lstrip("/")))
        source = self.tar.extractfile(member) if member is not None else None
        if source is None:
            raise InvalidArchiveError(f"invalid archive: {name} is missing or not a file")
        return source

    def json(self, name: str) -> Any:
        data = self.open(name).read(JSON_MAX + 1)
        if len(data) > JSON_MAX:
            raise InvalidArchiveError(f"invalid archive: {name} is too large")
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidArchiveError(f"invalid archive: {name}: {exc}") from None


def _blob(digest: Any) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidArchiveError(f"invalid archive: unsupported digest {digest!r}")
    return f"blobs/sha256/{digest.removeprefix('sha256:')}"


def _docker_save(archive: _Archive) -> list[_Plan]:
    manifest = archive.json("manifest.json")
    if not isinstance(manifest, list):
        raise InvalidArchiveError("invalid archive: manifest.json is not a list")
    plans = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArchiveError("invalid archive: manifest.json entry without Config")
        config = archive.open(entry["Config"]).read(JSON_MAX)
        _, diff_ids, _ = parse_config(config)
        layers = entry.get("Layers") or []
        if not isinstance(layers, list) or len(layers) != len(diff_ids):
            raise InvalidArchiveError("invalid archive: manifest layers do not match config")
        tags = tuple(str(parse(t)) for t in entry.get("RepoTags") or [] if isinstance(t, str))
        plans.append(
            _Plan(
                config,
                tuple((str(p), d, None) for p, d in zip(layers, diff_ids, strict=True)),
                tags,
            )
        )
    return plans


def _platform_ok(descriptor: dict[str, Any]) -> bool:
    platform = descriptor.get("platform")
    if not isinstance(platform, dict):
        return True
    return platform.get("os") == "linux" and platform.get("architecture") == host_architecture()


def _oci_name(descriptor: dict[str, Any]) -> tuple[str, ...]:
    annotations = descriptor.get("annotations") or {}
    name = annotations.get(NAME_ANNOTATION) or annotations.get(REF_ANNOTATION)
    if not isinstance(name, str) or not any(c in name for c in ":/@"):
        return ()  # a bare `latest` names a tag of no repository: load it untagged
    return (str(parse(name)),)


def _oci_manifest(archive: _Archive, descriptor: Any, depth: int = 0) -> dict[str, Any] | None:
    if not isinstance(descriptor, dict) or depth > 4:
        raise InvalidArchiveError("invalid archive: bad descriptor in index.json")
    doc = archive.json(_blob(descriptor.get("digest")))
    if not isinstance(doc, dict):
        raise InvalidArchiveError("invalid archive: manifest is not an object")
    if descriptor.get("mediaType") in _INDEXES or "manifests" in doc:
        for child in doc.get("manifests") or []:
            if isinstance(child, dict) and _platform_ok(child):
                found = _oci_manifest(archive, child, depth + 1)
                if found is not None:
                    return found
        return None
    return doc


def _oci_layout(archive: _Archive) -> list[_Plan]:
    index = archive.json("index.json")
    plans = []
    for descriptor in (index.get("manifests") if isinstance(index, dict) else None) or []:
        if isinstance(descriptor, dict) and not _platform_ok(descriptor):
            continue
        manifest = _oci_manifest(archive, descriptor)
        if manifest is None:
            continue
        config_desc = manifest.get("config") or {}
        config = archive.open(_blob(config_desc.get("digest"))).read(JSON_MAX)
        _, diff_ids, _ = parse_config(config)
        layers = manifest.get("layers") or []
        if len(layers) != len(diff_ids):
            raise InvalidArchiveError("invalid archive: manifest layers do not match config")
        planned = []
        for layer, diff_id in zip(layers, diff_ids, strict=True):
            if "zstd" in str(layer.get("mediaType", "")):
                raise InvalidArchiveError("invalid archive: zstd layers are not supported")
            planned.append((_blob(layer.get("digest")), diff_id, str(layer.get("digest"))))
        plans.append(_Plan(config, tuple(planned), _oci_name(descriptor)))
    if not plans:
        raise InvalidArchiveError(f"invalid archive: no image for linux/{host_architecture()}")
    return plans


def _seekable(source: IO[bytes], staging: Staging) -> IO[bytes]:
    """The archive as a plain seekable tar: as given when it is one, else spooled to staging."""
    stream = buffered(source)
    if not sniff(stream):
        try:
            if stat.S_ISREG(os.fstat(stream.fileno()).st_mode) and stream.seekable():
                return stream
        except (OSError, ValueError):
            pass
    path = staging.new_dir() / "archive.tar"
    with open(path, "wb") as out:
        shutil.copyfileobj(decompressed(stream, "archive"), out, CHUNK)
    return staging.keep_open(open(path, "rb"))


def _plans(archive: _Archive) -> list[_Plan]:
    if archive.has("manifest.json"):
        return _docker_save(archive)
    if archive.has("index.json"):
        return _oci_layout(archive)
    raise InvalidArchiveError(
        "invalid archive: neither manifest.json (docker save) nor index.json "
        "(OCI image layout) found"
    )


def load_archive(
    root: Path, source: IO[bytes], *, whiteouts: Whiteouts | None = None
) -> list[Loaded]:
    """Load every image of a `docker save` or OCI layout archive (plain or compressed)."""
    store = Store(root)
    with Staging(store, whiteouts) as staging:
        try:
            with tarfile.open(fileobj=_seekable(source, staging), mode="r:") as tar:
                archive = _Archive(tar)
                plans = _plans(archive)
                pending = [
                    [
                        staging.layer(archive.open(name), f"layer {name}", diff_id, digest)
                        for name, diff_id, digest in plan.layers
                    ]
                    for plan in plans
                ]
        except ImageError:
            raise
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidArchiveError(
                f"invalid archive: {exc or 'unexpected end of data'}"
            ) from None
        loaded = []
        with store.locked():
            store.remove_stale_staging()
            for plan, layers in zip(plans, pending, strict=True):
                image_id, displaced = store.commit(plan.config, layers, list(plan.tags))
                loaded.append(
                    Loaded(
                        image_id,
                        tuple(parse(t).familiar() for t in plan.tags),
                        tuple((parse(t).familiar(), old) for t, old in displaced.items()),
                    )
                )
    return loaded
