"""`pyengine import`: one root filesystem tarball becomes a one-layer image.

As `docker import`, the tarball may be plain or gzip/bzip2/xz compressed, the image gets no
command unless `--change` gives one, and `--change` takes Dockerfile instructions limited to
those that only set configuration (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER,
WORKDIR).
"""

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from engine.images.errors import InvalidChangeError
from engine.images.model import host_architecture, rfc3339
from engine.images.reference import parse
from engine.images.staging import Staging
from engine.images.store import Store
from engine.images.unpack import Whiteouts

CHANGE_COMMANDS = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "WORKDIR",
)  # fmt: skip


def _exec_form(arg: str) -> list[str]:
    """`["a","b"]` as given, or a shell form wrapped in `/bin/sh -c` as Docker does."""
    if arg.startswith("["):
        try:
            value = json.loads(arg)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", arg]


def _pairs(arg: str, what: str) -> list[tuple[str, str]]:
    words = shlex.split(arg)
    if len(words) >= 2 and "=" not in words[0]:
        return [(words[0], arg.split(None, 1)[1])]  # the legacy `ENV KEY value with spaces`
    if not words or not all("=" in w for w in words):
        raise InvalidChangeError(f"{what} requires KEY=VALUE: {arg!r}")
    return [(k, v) for k, _, v in (w.partition("=") for w in words)]


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """`config` (Docker's `Config` object) with each `--change` line applied in order."""
    out = dict(config)
    for line in changes:
        command, _, arg = line.strip().partition(" ")
        command, arg = command.upper(), arg.strip()
        if command not in CHANGE_COMMANDS:
            raise InvalidChangeError(f"{command} is not a valid change command")
        if command in ("CMD", "ENTRYPOINT"):
            out["Cmd" if command == "CMD" else "Entrypoint"] = _exec_form(arg)
        elif command == "ENV":
            env = [e for e in out.get("Env") or [] if isinstance(e, str)]
            for key, value in _pairs(arg, "ENV"):
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
            out["Env"] = env
        elif command == "LABEL":
            out["Labels"] = {**(out.get("Labels") or {}), **dict(_pairs(arg, "LABEL"))}
        elif command == "EXPOSE":
            ports = dict(out.get("ExposedPorts") or {})
            for port in arg.split():
                ports[port if "/" in port else f"{port}/tcp"] = {}
            out["ExposedPorts"] = ports
        else:
            out[{"STOPSIGNAL": "StopSignal", "USER": "User", "WORKDIR": "WorkingDir"}[command]] = (
                arg
            )
    return out


def import_rootfs(
    root: Path,
    source: IO[bytes],
    reference: str | None = None,
    *,
    changes: list[str] | None = None,
    message: str = "",
    source_name: str = "-",
    whiteouts: Whiteouts | None = None,
    now: datetime | None = None,
) -> str:
    """Import a root filesystem tarball; returns the new image id (`sha256:...`)."""
    tag = str(parse(reference)) if reference else None
    config = apply_changes({}, changes or [])
    created = rfc3339(now or datetime.now(UTC))
    store = Store(root)
    with Staging(store, whiteouts) as staging:
        layer = staging.layer(source, f"tarball {source_name}")
        doc = {
            "architecture": host_architecture(),
            "comment": message or f"Imported from {source_name}",
            "config": config,
            "created": created,
            "history": [{"created": created, "comment": message or f"Imported from {source_name}"}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        with store.locked():
            store.remove_stale_staging()
            image_id, _ = store.commit(blob, [layer], [tag] if tag else [])
    return image_id
