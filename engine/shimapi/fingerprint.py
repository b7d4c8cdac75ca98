"""A fingerprint of the shim's code, so a resident zygote never forks shims from stale code.

The zygote imports the shim once and forks it for every container; after an upgrade its
memory still holds the old modules. Clients send the fingerprint of the code on disk, and a
zygote whose own differs retires (the next request starts a fresh one).
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable


def code_fingerprint() -> str:
    """The fingerprint of the whole engine package: a zygote forks engine/shim, and through it
    engine/shimapi, engine/runtime and the proxy launcher in engine/ports (about a hundred
    stats, well under a millisecond)."""
    return tree_fingerprint([os.path.dirname(os.path.dirname(os.path.abspath(__file__)))])


def tree_fingerprint(folders: Iterable[str]) -> str:
    """crc32 of the paths, sizes and mtimes of every module under `folders` (recursively)."""
    parts = []
    for top in folders:
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    parts.append(f"{folder}/{name}:{st.st_mtime_ns}:{st.st_size}")
    return f"{binascii.crc32(';'.join(parts).encode()):08x}"
