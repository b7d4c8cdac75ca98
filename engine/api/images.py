"""Image endpoints: list, inspect, tag, remove, prune; `create` answers for what needs a
registry (pull) until the engine has one."""

from collections.abc import AsyncIterator
from typing import Any

from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response, Stream
from engine.api.router import Router
from engine.images.errors import ImageNotFoundError
from engine.images.model import Image
from engine.lifecycle.service import Engine


def list_entry(image: Image) -> dict[str, Any]:
    return {
        "Id": image.id, "ParentId": "", "RepoTags": list(image.tags), "RepoDigests": [],
        "Created": int(image.created.timestamp()) if image.created else 0,
        "Size": image.size, "VirtualSize": image.size, "SharedSize": -1,
        "Labels": {}, "Containers": -1,
    }  # fmt: skip


class Images:
    """Handlers over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/images/json", self.listing)
        router.add("POST", "/images/create", self.create)
        router.add("POST", "/images/prune", self.prune)
        router.add("GET", "/images/{name:path}/json", self.inspect)
        router.add("POST", "/images/{name:path}/tag", self.tag)
        router.add("DELETE", "/images/{name:path}", self.remove)

    async def listing(self, request: Request) -> Response:
        images = await self.backend.images(lambda service: service.images())
        return Reply(200, [list_entry(image) for image in images])

    async def inspect(self, request: Request, name: str) -> Response:
        return Reply(200, await self.backend.images(lambda service: service.inspect(name)))

    async def tag(self, request: Request, name: str) -> Response:
        repo = request.arg("repo")
        if not repo:
            raise HttpError(400, "repository name must have at least one component")
        target = f"{repo}:{request.arg('tag')}" if request.arg("tag") else repo
        await self.backend.images(lambda service: service.tag(name, target))
        return Reply(201, b"", content_type="text/plain")

    async def remove(self, request: Request, name: str) -> Response:
        force = request.flag("force")
        done = await self.backend.images(lambda service: service.remove(name, force=force))
        return Reply(200, [{"Untagged": t} for t in done.untagged]
                     + [{"Deleted": d} for d in done.deleted])  # fmt: skip

    async def prune(self, request: Request) -> Response:
        everything = "dangling=false" in request.arg("filters").replace(" ", "").replace(
            '"dangling":["false"]', "dangling=false"
        )
        done = await self.backend.images(lambda s: s.prune(all_images=everything))
        return Reply(200, {
            "ImagesDeleted": [{"Untagged": t} for t in done.untagged]
            + [{"Deleted": d} for d in done.deleted] or None,
            "SpaceReclaimed": done.reclaimed,
        })  # fmt: skip

    async def create(self, request: Request) -> Response:
        """`docker pull`: an image the engine has (busybox, or one loaded) is up to date;
        anything else needs a registry, which the engine cannot reach yet (issue 16)."""
        name = request.arg("fromImage")
        if not name:
            raise HttpError(501, "images/create serves fromImage only (no fromSrc import yet)")
        tag = request.arg("tag") or "latest"
        ref = name if "@" in name or ":" in name.rpartition("/")[2] else f"{name}:{tag}"

        def look(engine: Engine) -> bool:
            try:
                engine.images.resolve(ref)  # the built-in busybox is made on first use
            except ImageNotFoundError:
                return False
            return True

        if not await self.backend.call(look):
            raise HttpError(
                404,
                f"pull access denied for {name}: pyengine has no registry client yet, "
                "only local images (busybox, load, import)",
            )

        async def body() -> AsyncIterator[bytes]:
            yield b'{"status":"Status: Image is up to date for %s"}\n' % ref.encode()

        return Stream(body())
