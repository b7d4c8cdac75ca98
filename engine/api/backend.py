"""The engine seam, reached from the event loop: the engine's calls block (file locks, shims,
the runtime), so each runs in a worker thread, with an Engine of that thread's own."""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from engine.images.service import ImageService
from engine.lifecycle.service import Engine
from engine.networks.service import NetworkService

T = TypeVar("T")
# Enough for every `wait` and attachment a busy client holds open (each blocks a thread), and
# `docker run -d` in parallel beside them.
WORKERS = 256


class Backend:
    """Runs engine calls off the loop; `engine`, `images` and `networks` open the services of
    one root."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        images: Callable[[], ImageService],
        networks: Callable[[], NetworkService],
    ) -> None:
        self._open_engine, self._open_images, self._open_networks = engine, images, networks
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="engine")

    def _engine(self) -> Engine:
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = self._open_engine()
        return engine

    async def call(self, work: Callable[[Engine], T]) -> T:
        """`work(engine)` in a worker thread, with that thread's Engine."""
        return await self.blocking(lambda: work(self._engine()))

    async def images(self, work: Callable[[ImageService], T]) -> T:
        """`work(images)` in a worker thread."""
        return await self.blocking(lambda: work(self._open_images()))

    async def networks(self, work: Callable[[NetworkService], T]) -> T:
        """`work(networks)` in a worker thread."""
        return await self.blocking(lambda: work(self._open_networks()))

    async def blocking(self, work: Callable[[], T]) -> T:
        """Any blocking call in a worker thread (all of the above come here)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
