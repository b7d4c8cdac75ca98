"""Reading a bundle's config.json with the checks runc would fail on later, less clearly."""

from __future__ import annotations

import json
import os
from typing import Any

from engine.shimapi.errors import InvalidArgumentError


def read_bundle_config(bundle: str) -> dict[str, Any]:
    """config.json, with the checks runc would fail on later with a vaguer message."""
    if not os.path.isdir(bundle):
        raise InvalidArgumentError(f"bundle {bundle} does not exist or is not a directory")
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            spec = json.loads(f.read())
    except FileNotFoundError:
        raise InvalidArgumentError(f"bundle {bundle} has no config.json") from None
    except ValueError as exc:
        raise InvalidArgumentError(f"{path}: {exc}") from None
    root = str((spec.get("root") or {}).get("path") or "")
    rootfs = root if os.path.isabs(root) else os.path.join(bundle, root)
    if not root or not os.path.isdir(rootfs):
        raise InvalidArgumentError(f"rootfs {rootfs or '(none)'} does not exist")
    if os.path.islink(rootfs):
        raise InvalidArgumentError(f"rootfs {rootfs} is a symlink; runc needs a real directory")
    return dict(spec)
