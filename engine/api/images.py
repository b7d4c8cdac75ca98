"""Image endpoints: list, inspect, tag, remove, prune; `create` answers for what needs a
registry (pull) until the engine has one."""

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response, Stream
from engine.api.router import Router
from engine.images.errors import ImageNotFoundError
from engine.images.model import Image
from engine.images.saver import save
from engine.lifecycle.service import Engine


def list_entry(image: Image) -> dict[str, Any]:
    return {
        "Id": image.id, "ParentId": "", "RepoTags": list(image.tags), "RepoDigests": [],
        "Created": int(image.created.timestamp()) if image.created else 0,
        "Size": image.size, "VirtualSize": image.size, "SharedSize": -1,
        "Labels": {}, "Containers": -1,
    }  # fmt: skip


CHUNK = 1 << 20


def _saved(root: Path, names: list[str]) -> IO[bytes]:
    """The archive in a rewound temporary file, which the caller closes."""
    spool = tempfile.TemporaryFile(dir=root)  # noqa: SIM115 - closed by the stream's end
    try:
        save(root, names, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


class Images:
    """Handlers over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/images/json", self.listing)
        router.add("GET", "/images/get", self.get)
        router.add("POST", "/images/load", self.load)
        router.add("POST", "/images/create", self.create)
        router.add("GET", "/images/{name:path}/get", self.get_one)
        router.add("GET", "/images/{name:path}/history", self.history)
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

    async def get(self, request: Request) -> Response:
        """`docker save A B...`: one docker-archive (engine/images/saver.py)."""
        names = request.query.get("names") or []
        if not names:
            raise HttpError(400, "names is required")
        return await self._archive(names)

    async def get_one(self, request: Request, name: str) -> Response:
        return await self._archive([name])

    async def _archive(self, names: list[str]) -> Response:
        root = await self.backend.call(lambda engine: engine.root)
        spool = await self.backend.blocking(lambda: _saved(root, names))

        async def body() -> AsyncIterator[bytes]:
            try:
                while chunk := await self.backend.blocking(lambda: spool.read(CHUNK)):
                    yield chunk
            finally:
                spool.close()

        return Stream(body(), content_type="application/x-tar")

    async def load(self, request: Request) -> Response:
        """`docker load`: JSON progress lines naming what was loaded."""
        upload = request.upload
        if upload is None:
            raise HttpError(400, "an image archive is required")
        try:
            loaded = await self.backend.images(lambda service: service.load(upload))
        finally:
            upload.close()
        lines = [f"Loaded image: {tag}" for item in loaded for tag in item.tags]
        lines += [f"Loaded image ID: {item.image_id}" for item in loaded if not item.tags]

        async def body() -> AsyncIterator[bytes]:
            for line in lines:
                yield json.dumps({"stream": line + "\n"}).encode() + b"\n"

        return Stream(body())

    async def history(self, request: Request, name: str) -> Response:
        return Reply(200, await self.backend.images(lambda service: service.history(name)))

    async def create(self, request: Request) -> Response:
        """`docker import` (fromSrc=-: the body is the root filesystem's tar); `docker pull`:
        an image the engine has (busybox, or one loaded) is up to date; anything else needs a
        registry, which the engine cannot reach yet (issue 16)."""
        if request.arg("fromSrc"):
            return await self._import(request)
        if request.upload is not None:
            request.upload.close()
        name = request.arg("fromImage")
        if not name:
            raise HttpError(400, "fromImage or fromSrc is required")
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

    async def _import(self, request: Request) -> Response:
        upload = request.upload
        if request.arg("fromSrc") != "-" or upload is None:
            if upload is not None:
                upload.close()
            raise HttpError(501, "importing from a URL needs the registry client (issue 16)")
        repo, tag = request.arg("repo"), request.arg("tag")
        reference = (f"{repo}:{tag}" if tag else repo) or None
        changes = request.query.get("changes") or []
        message = request.arg("message")
        try:
            image_id = await self.backend.images(
                lambda service: service.import_rootfs(
                    upload, reference, changes=changes, message=message
                )
            )
        finally:
            upload.close()

        async def body() -> AsyncIterator[bytes]:
            yield json.dumps({"status": image_id}).encode() + b"\n"

        return Stream(body())
