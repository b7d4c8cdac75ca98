"""`proxy.json` in a shim's state directory: the watched port proxy's state as the shim last
saw it (engine/shim/proxywatch.py writes it after each change; `inspect` reads it)."""

import contextlib
import json
import os


def write_proxy_state(path: str, state: dict[str, object]) -> None:
    """Replace the file whole (a reader never sees half of it); a full disk loses one update."""
    tmp = f"{path}.tmp"
    with contextlib.suppress(OSError):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)


def read_proxy_state(path: str) -> dict[str, object] | None:
    """The state last written at `path`, None when nothing watches a proxy there."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
