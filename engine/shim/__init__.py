"""pyshim: one small process per container between the engine and the OCI runtime.

This module stays import-free: `pyshim` (console script) and `python -m engine.shim` land here,
and every import the shim pays for is multiplied by the number of containers.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """`pyshim start|delete|version ...`; see engine/README.md."""
    from engine.shim.main import main as _main  # noqa: PLC0415 - keep the entry point light

    return _main(argv)
