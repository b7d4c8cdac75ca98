"""GET /containers/{id}/stats: Docker's stats objects from the shim's cgroup figures, one
(after a first sample, so CPU has a delta) or a stream, one a second, while the client reads."""

import asyncio
import datetime
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from engine.api.backend import Backend
from engine.api.http import Reply, Request, Response, Stream
from engine.api.router import Router
from engine.containers.record import LIVE
from engine.lifecycle.service import Engine

INTERVAL = 1.0  # seconds between samples, as dockerd's collector
_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def system_cpu_ns() -> int:
    """The host's CPU time (all CPUs, all states), the base Docker's CPU % is a share of."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()[1:]
    return int(sum(int(v) for v in fields[:8]) * _TICK_NS)


def host_memory() -> int:
    """The host's RAM in bytes: the limit of a container that has none."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def sample(engine: Engine, ref: str) -> dict[str, Any]:
    record = engine.store.find(ref)
    figures = {"cpu_ns": 0, "memory": 0, "memory_limit": 0, "pids": 0}
    if record.state.status in LIVE:
        figures = engine.tasks.stats(record.id)
    return {
        "id": record.id, "name": "/" + record.name, "read": _now(),
        "cpu_stats": {"cpu_usage": {"total_usage": figures["cpu_ns"]},
                      "system_cpu_usage": system_cpu_ns(), "online_cpus": os.cpu_count() or 1},
        "memory_stats": {"usage": figures["memory"],
                         "limit": figures["memory_limit"] or host_memory()},
        "pids_stats": {"current": figures["pids"]},
        "blkio_stats": {}, "networks": {}, "live": record.state.status in LIVE,
    }  # fmt: skip


def _with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> bytes:
    doc = dict(current)
    doc.pop("live")
    empty = {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0, "online_cpus": 0}
    doc["precpu_stats"] = previous["cpu_stats"] if previous else empty
    doc["preread"] = previous["read"] if previous else "0001-01-01T00:00:00Z"
    return json.dumps(doc).encode() + b"\n"


class Stats:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/containers/{ref}/stats", self.stats)

    async def stats(self, request: Request, ref: str) -> Response:
        first = await self.backend.call(lambda engine: sample(engine, ref))
        if request.flag("one-shot"):
            return Reply(200, json.loads(_with_previous(first, None)))
        if not request.flag("stream", default=True):
            await asyncio.sleep(INTERVAL)
            second = await self.backend.call(lambda engine: sample(engine, ref))
            return Reply(200, json.loads(_with_previous(second, first)))

        async def body() -> AsyncIterator[bytes]:
            previous, current = None, first
            while True:
                yield _with_previous(current, previous)
                if not current["live"]:
                    return
                await asyncio.sleep(INTERVAL)
                previous, current = current, await self.backend.call(lambda e: sample(e, ref))

        return Stream(body())
