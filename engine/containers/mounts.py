"""`-v`, `--mount` and `--tmpfs`, parsed as Docker parses them (moby volume/mounts/linux_parser.go,
the CLI's opts/mount.go), into one `MountSpec` each.

A `volume` mount with no source is anonymous: `create` names it (a new 64-hex id, as Docker).
Where Docker refuses a value, the message is Docker's, so scripts that match on it keep working.
"""

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from engine.containers import units
from engine.containers.errors import InvalidOptionError

TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
# Docker's local driver accepts these names only (volume/local/local.go).
VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# Where the flag came from decides one rule: `-v` creates a missing host directory, `--mount`
# refuses it (Docker's documented difference).
FROM_VOLUME_FLAG, FROM_MOUNT_FLAG, FROM_TMPFS_FLAG, FROM_IMAGE = "v", "mount", "tmpfs", "image"


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One mount of a container, as requested."""

    type: str  # bind | volume | tmpfs
    target: str
    source: str = ""  # bind: the host path; volume: its name ("" until create names it)
    readonly: bool = False
    propagation: str = ""  # bind only; "" is Docker's default, rprivate
    nocopy: bool = False  # volume only: no copy of the image's content into a new volume
    anonymous: bool = False  # volume only: named by create, removed by `rm -v` and `--rm`
    tmpfs_size: int = 0  # bytes; 0 is the kernel's default (half of RAM)
    tmpfs_mode: int = 0  # 0: the kernel's default (1777)
    tmpfs_options: tuple[str, ...] = ()  # `--tmpfs DST:OPTS`, passed on as given
    # volume only, for a volume this mount creates: `volume-label=k=v`, `volume-opt=k=v`.
    volume_labels: tuple[str, ...] = ()
    volume_options: tuple[str, ...] = ()
    origin: str = FROM_VOLUME_FLAG

    def mode_text(self) -> str:
        """Docker's `Mode` in inspect's Mounts: the `-v` mode words given, else empty."""
        words = []
        if self.origin == FROM_VOLUME_FLAG:
            if self.readonly:
                words.append("ro")
            if self.nocopy:
                words.append("nocopy")
            if self.propagation:
                words.append(self.propagation)
        return ",".join(words)


def _invalid_spec(raw: str) -> InvalidOptionError:
    return InvalidOptionError(f"invalid volume specification: '{raw}'")


def _absolute(target: str, kind: str) -> str:
    if not target:
        raise InvalidOptionError(
            f'invalid mount config for type "{kind}": field Target must not be empty'
        )
    if not target.startswith("/"):
        raise InvalidOptionError(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{target}' "
            "mount path must be absolute"
        )
    if target.rstrip("/") == "":
        raise InvalidOptionError(
            f'invalid mount config for type "{kind}": invalid specification: '
            "destination can't be '/'"
        )
    return target.rstrip("/")


def check_volume_name(name: str) -> str:
    """A name the local driver accepts, with Docker's message otherwise."""
    if not VOLUME_NAME.fullmatch(name):
        raise InvalidOptionError(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )
    return name


def parse_volume_flag(raw: str) -> MountSpec:
    """`-v [SRC:]DST[:MODE]`: SRC absolute is a bind, a name is a named volume, none is an
    anonymous volume. MODE: ro|rw, z|Z (SELinux labels; nothing to do without SELinux),
    nocopy, a propagation; comma-separated."""
    parts = raw.split(":")
    if not raw or len(parts) > 3 or any(p == "" for p in parts):
        raise _invalid_spec(raw)
    mode = ""
    if len(parts) == 1:
        source, target = "", parts[0]
    elif len(parts) == 2:
        # `-v /a:/b` is a bind; `-v /a:ro` is not a thing (Docker: DST cannot be a mode).
        source, target = parts
    else:
        source, target, mode = parts
    readonly, nocopy, propagation = False, False, ""
    for word in mode.split(",") if mode else ():
        if word in ("ro", "rw"):
            readonly = word == "ro"
        elif word in ("z", "Z"):
            pass
        elif word == "nocopy":
            nocopy = True
        elif word in PROPAGATIONS:
            propagation = word
        else:
            raise InvalidOptionError(f"invalid mode: {mode}")
    if not source:
        return MountSpec("volume", _absolute(target, "volume"), readonly=readonly, nocopy=nocopy)
    if source.startswith("/"):
        if nocopy:
            raise InvalidOptionError(f"invalid mode: {mode}")
        return MountSpec(
            "bind", _absolute(target, "bind"), source, readonly, propagation=propagation
        )
    if propagation:
        raise InvalidOptionError(f"invalid mode: {mode}")
    return MountSpec(
        "volume", _absolute(target, "volume"), check_volume_name(source), readonly, nocopy=nocopy
    )


def _bool(key: str, value: str | None) -> bool:
    if value is None or value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise InvalidOptionError(f"invalid value for {key}: {value}")


def parse_mount_flag(raw: str) -> MountSpec:
    """`--mount type=bind|volume|tmpfs,source=...,target=...,readonly,...`, comma-separated
    and CSV-quoted as Docker reads it."""
    try:
        fields = next(csv.reader([raw]))
    except (csv.Error, StopIteration):
        raise InvalidOptionError(f"invalid argument {raw!r} for --mount") from None
    values: dict[str, str | None] = {}
    labels: list[str] = []
    options: list[str] = []
    for field_ in fields:
        key, sep, value = field_.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise InvalidOptionError(f"unexpected key '{key}' in '{field_}'")
        if key == "consistency":
            continue  # a hint for Docker Desktop's file sharing; nothing to do on Linux
        if key in ("volume-label", "volume-opt"):
            (labels if key == "volume-label" else options).append(value)
        values[_MOUNT_KEYS[key]] = value if sep else None
    driver = values.pop("volume-driver", None)
    values.pop("volume-label", None)
    values.pop("volume-opt", None)
    if driver not in (None, "", "local"):
        raise InvalidOptionError(
            f'error looking up volume plugin {driver}: plugin "{driver}" not found'
        )
    kind = values.pop("type", None) or "volume"
    if kind not in TYPES:
        raise InvalidOptionError(f"invalid mount type: {kind}")
    target = _absolute(values.pop("target", None) or "", kind)
    source = values.pop("source", None) or ""
    readonly = _bool("readonly", values.pop("readonly")) if "readonly" in values else False
    spec = MountSpec(kind, target, readonly=readonly, origin=FROM_MOUNT_FLAG)
    if (labels or options or driver) and kind != "volume":
        raise InvalidOptionError(
            f"invalid mount config for type \"{kind}\": cannot mix 'volume-*' options with "
            f"'{kind}' mount"
        )
    for key in values:
        if not key.startswith(kind):
            raise InvalidOptionError(
                f"invalid mount config for type \"{kind}\": cannot mix '{key}' options with "
                f"'{kind}' mount"
            )
    if kind == "bind":
        if not source:
            raise InvalidOptionError(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        propagation = values.get("bind-propagation") or ""
        if propagation and propagation not in PROPAGATIONS:
            raise InvalidOptionError(f"invalid propagation mode: {propagation}")
        return replace(spec, source=source, propagation=propagation)
    if kind == "volume":
        nocopy = "volume-nocopy" in values and _bool("volume-nocopy", values["volume-nocopy"])
        return replace(
            spec,
            source=check_volume_name(source) if source else "",
            nocopy=nocopy,
            volume_labels=tuple(labels),
            volume_options=tuple(options),
        )
    if source:
        raise InvalidOptionError(
            'invalid mount config for type "tmpfs": field Source must not be specified'
        )
    size = values.get("tmpfs-size") or ""
    mode = values.get("tmpfs-mode") or ""
    return replace(
        spec,
        tmpfs_size=units.ram_in_bytes(size) if size else 0,
        tmpfs_mode=_octal(mode) if mode else 0,
    )


_MOUNT_KEYS = {
    "type": "type",
    "source": "source",
    "src": "source",
    "target": "target",
    "destination": "target",
    "dst": "target",
    "readonly": "readonly",
    "ro": "readonly",
    "bind-propagation": "bind-propagation",
    "volume-nocopy": "volume-nocopy",
    "tmpfs-size": "tmpfs-size",
    "tmpfs-mode": "tmpfs-mode",
    "consistency": "consistency",
    "volume-driver": "volume-driver",
    "volume-label": "volume-label",
    "volume-opt": "volume-opt",
}


def _octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise InvalidOptionError(f"invalid value for tmpfs-mode: {text}") from None


def parse_tmpfs_flag(raw: str) -> MountSpec:
    """`--tmpfs DST[:OPTIONS]`: mount(8)'s tmpfs options (size=64m,mode=1777,exec...)."""
    target, _, options = raw.partition(":")
    words = tuple(w for w in options.split(",") if w) if options else ()
    return MountSpec(
        "tmpfs", _absolute(target, "tmpfs"), tmpfs_options=words, origin=FROM_TMPFS_FLAG
    )


def parse_all(
    volumes: Sequence[str], mounts: Sequence[str], tmpfs: Sequence[str]
) -> tuple[MountSpec, ...]:
    """Every mount flag of one `create`, refusing two mounts on one path as Docker does."""
    specs = [parse_volume_flag(v) for v in volumes]
    specs += [parse_mount_flag(m) for m in mounts]
    specs += [parse_tmpfs_flag(t) for t in tmpfs]
    check_unique(specs)
    return tuple(specs)


def check_unique(specs: Iterable[MountSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.target in seen:
            raise InvalidOptionError(f"Duplicate mount point: {spec.target}")
        seen.add(spec.target)


def from_json(items: Iterable[dict[str, object]]) -> tuple[MountSpec, ...]:
    """Mounts back from a record's JSON."""
    out = []
    for item in items:
        values = dict(item)
        for key in ("tmpfs_options", "volume_labels", "volume_options"):
            values[key] = tuple(values.get(key) or ())  # type: ignore[arg-type]
        out.append(MountSpec(**values))  # type: ignore[arg-type]
    return tuple(out)
