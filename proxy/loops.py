"""Event loops by name; the heavy imports happen here, after the proxy reported ready."""

import asyncio
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(name: str) -> LoopFactory:
    """The factory for `--loop NAME` (names validated by proxy.config.LOOP_NAMES)."""
    if name == "uvloop":
        import uvloop  # noqa: PLC0415 - only the chosen loop is imported

        return uvloop.new_event_loop
    return asyncio.new_event_loop
