"""A fingerprint of the shim's code, so a resident zygote never forks shims from stale code.

The zygote imports the shim once and forks it for every container; after an upgrade its
memory still holds the old modules. Clients send the fingerprint of the code on disk, and a
zygote whose own differs retires (the next request starts a fresh one).
"""

import binascii
import os

_PACKAGES = ("shim", "runtime")


def code_fingerprint() -> str:
    """crc32 of the names, sizes and mtimes of engine/shim and engine/runtime's modules."""
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = []
    for package in _PACKAGES:
        folder = os.path.join(base, package)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{package}/{name}:{st.st_mtime_ns}:{st.st_size}")
    return f"{binascii.crc32(';'.join(parts).encode()):08x}"
