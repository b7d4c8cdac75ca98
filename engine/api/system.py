"""System endpoints: `_ping`, `version`, `info`, `events`."""

import json
import os
import platform
import time
from collections.abc import AsyncIterator
from typing import Any

from engine.api import images as images_api
from engine.api.backend import Backend
from engine.api.http import (
    API_VERSION,
    MIN_API_VERSION,
    HttpError,
    Reply,
    Request,
    Response,
    Stream,
)
from engine.api.router import Router
from engine.api.stats import host_memory
from engine.api.translate import list_entry
from engine.config import EngineConfig
from engine.lifecycle.service import Engine
from engine.lifecycle.streams import EventsRequest
from engine.lifecycle.volumes import VolumeService

ENGINE_VERSION = "20.10.24-pyengine"


def _event(event: Any) -> dict[str, Any]:
    """One event in Docker's shape (the `status`/`id`/`from` keys old clients read, too)."""
    attributes = {"name": event.name, "image": event.image}
    if event.exit_code is not None:
        attributes["exitCode"] = str(event.exit_code)
    return {
        "status": event.action, "id": event.id, "from": event.image,
        "Type": "container", "Action": event.action,
        "Actor": {"ID": event.id, "Attributes": attributes}, "scope": "local",
        "time": event.time_ns // 1_000_000_000, "timeNano": event.time_ns,
    }  # fmt: skip


class System:
    """Handlers over one Backend, for an engine with these settings."""

    def __init__(self, backend: Backend, config: EngineConfig) -> None:
        self.backend, self.config = backend, config

    def routes(self, router: Router) -> None:
        router.add("GET", "/_ping", self.ping)
        router.add("HEAD", "/_ping", self.ping)
        router.add("GET", "/version", self.version)
        router.add("GET", "/info", self.info)
        router.add("GET", "/events", self.events)
        router.add("GET", "/system/df", self.disk_usage)

    async def ping(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
        return Reply(200, b"OK", headers, content_type="text/plain; charset=utf-8")

    async def version(self, request: Request) -> Response:
        uname = platform.uname()
        return Reply(200, {
            "Platform": {"Name": "pyengine"},
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION,
                            "Details": {"ApiVersion": API_VERSION}}],
            "Version": ENGINE_VERSION, "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION, "GitCommit": "pyplumb",
            "GoVersion": f"python{platform.python_version()}", "Os": "linux",
            "Arch": _arch(uname.machine), "KernelVersion": uname.release,
            "BuildTime": "",
        })  # fmt: skip

    async def info(self, request: Request) -> Response:
        def count(engine: Engine) -> dict[str, int]:
            records = engine.listing(everything=True)
            states = [r.state.status for r in records]
            return {
                "Containers": len(records),
                "ContainersRunning": states.count("running"),
                "ContainersPaused": states.count("paused"),
                "ContainersStopped": len(records)
                - states.count("running")
                - states.count("paused"),
            }

        counts = await self.backend.call(count)
        images = await self.backend.images(lambda service: len(service.images()))
        uname = platform.uname()
        return Reply(200, {
            "ID": "pyengine", **counts, "Images": images,
            "Driver": "overlay", "DockerRootDir": str(self.config.root),
            "ServerVersion": ENGINE_VERSION, "Name": uname.node,
            "OperatingSystem": "Linux", "OSType": "linux", "Architecture": uname.machine,
            "KernelVersion": uname.release, "NCPU": os.cpu_count() or 1,
            "MemTotal": host_memory(),
            "DefaultRuntime": self.config.default_runtime,
            "Runtimes": {name: {"path": e.path} for name, e in self.config.runtimes.items()},
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs",
            "SecurityOptions": [], "Warnings": [],
        })  # fmt: skip

    async def disk_usage(self, request: Request) -> Response:
        now = time.time()
        records, volumes = await self.backend.call(
            lambda engine: (
                engine.listing(everything=True),
                VolumeService(engine.store, engine.volumes).listing(size=True),
            )
        )
        images = await self.backend.images(lambda service: service.images())
        return Reply(200, {
            "LayersSize": sum(image.size for image in images),
            "Images": [images_api.list_entry(image) for image in images],
            "Containers": [{**list_entry(r, now), "SizeRw": 0, "SizeRootFs": 0}
                           for r in records],
            "Volumes": [v.to_json() for v in volumes], "BuildCache": [],
        })  # fmt: skip

    async def events(self, request: Request) -> Response:
        since, until = _stamp(request.arg("since")), _stamp(request.arg("until"))
        if not until and not since:
            since = 0

        def open_events(engine: Engine) -> Any:
            return iter(engine.events(EventsRequest(since_ns=since, until_ns=until)))

        follow = await self.backend.call(open_events)

        async def body() -> AsyncIterator[bytes]:
            while True:
                event = await self.backend.blocking(lambda: next(follow, None))
                if event is None:
                    return
                yield json.dumps(_event(event)).encode() + b"\n"

        return Stream(body())


def _stamp(text: str) -> int:
    """`since`/`until`: Unix seconds with an optional fraction, as the docker CLI sends them."""
    if not text:
        return 0
    try:
        return int(float(text) * 1e9)
    except ValueError:
        raise HttpError(400, f"invalid timestamp: {text!r}") from None


def _arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
