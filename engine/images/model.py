"""What the store knows about an image: frozen records built from the image's config blob.

The image id is the sha256 of the config blob, as in Docker and OCI, so the blob is kept byte
for byte and everything here is parsed from it; only the tags and the unpacked size live
beside it.
"""

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.images.errors import InvalidArchiveError


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of the image's `config` that `run` uses (Docker's `Config`)."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""
    volumes: tuple[str, ...] = ()  # VOLUME: where each container gets an anonymous volume
    healthcheck: dict[str, Any] | None = None  # HEALTHCHECK, Docker's Healthcheck object

    def to_json(self) -> dict[str, Any]:
        """Docker's spelling of the same fields, omitting the empty ones."""
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.volumes:
            out["Volumes"] = {path: {} for path in self.volumes}
        if self.healthcheck:
            out["Healthcheck"] = self.healthcheck
        return out


@dataclass(frozen=True, slots=True)
class Image:
    """One image in the store: its id, layers (bottom first), config and tags."""

    id: str
    layers: tuple[str, ...]
    config: ImageConfig
    created: datetime | None
    architecture: str
    os: str
    size: int
    tags: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        """The 12 hex digits `docker images` shows."""
        return self.id.removeprefix("sha256:")[:12]


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArchiveError(f"invalid image config: {field} is not a list of strings")
    return tuple(value)


def _string(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArchiveError(f"invalid image config: {field} is not a string")
    return value


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time with Go's nanoseconds trimmed to what Python keeps."""
    if not isinstance(text, str) or not text:
        return None
    main, _, frac = text.partition(".")
    zone = ""
    if frac:
        digits = frac.rstrip("Z").split("+")[0].split("-")[0]
        zone = frac[len(digits) :]
        frac = "." + digits[:6]
    try:
        return datetime.fromisoformat((main + frac + zone).replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_config(blob: bytes) -> tuple[ImageConfig, tuple[str, ...], dict[str, Any]]:
    """The run config, the layer diff ids (bottom first) and the whole document."""
    try:
        doc = json.loads(blob)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArchiveError(f"invalid image config: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArchiveError("invalid image config: not a JSON object")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidArchiveError('invalid image config: rootfs.type is not "layers"')
    diff_ids = _strings(rootfs.get("diff_ids"), "rootfs.diff_ids")
    for diff_id in diff_ids:
        if not diff_id.startswith("sha256:") or len(diff_id) != 71:
            raise InvalidArchiveError(f"invalid image config: unsupported diff id {diff_id!r}")
    conf = doc.get("config") or {}
    if not isinstance(conf, dict):
        raise InvalidArchiveError("invalid image config: config is not an object")
    ports = conf.get("ExposedPorts") or {}
    labels = conf.get("Labels") or {}
    volumes = conf.get("Volumes") or {}
    if not all(isinstance(x, dict) for x in (ports, labels, volumes)):
        raise InvalidArchiveError(
            "invalid image config: ExposedPorts, Labels or Volumes is not an object"
        )
    config = ImageConfig(
        env=_strings(conf.get("Env"), "Env"),
        cmd=_strings(conf.get("Cmd"), "Cmd"),
        entrypoint=_strings(conf.get("Entrypoint"), "Entrypoint"),
        working_dir=_string(conf.get("WorkingDir"), "WorkingDir"),
        user=_string(conf.get("User"), "User"),
        exposed_ports=tuple(sorted(str(p) for p in ports)),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        stop_signal=_string(conf.get("StopSignal"), "StopSignal"),
        volumes=tuple(sorted(str(p) for p in volumes)),
        healthcheck=conf["Healthcheck"] if isinstance(conf.get("Healthcheck"), dict) else None,
    )
    return config, diff_ids, doc


def image_from_blob(image_id: str, blob: bytes, size: int, tags: tuple[str, ...]) -> Image:
    """The record for a stored config blob."""
    config, diff_ids, doc = parse_config(blob)
    return Image(
        id=image_id,
        layers=diff_ids,
        config=config,
        created=parse_time(doc.get("created")),
        architecture=str(doc.get("architecture", "")),
        os=str(doc.get("os", "")),
        size=size,
        tags=tags,
    )


_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386"}


def host_architecture() -> str:
    """The host's architecture in Go's (and OCI's) spelling."""
    machine = os.uname().machine
    return _GOARCH.get(machine, machine)


def rfc3339(when: datetime) -> str:
    """Go's RFC 3339 layout with fractional seconds, in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
