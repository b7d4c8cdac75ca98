"""`Images` over engine/images: the store and overlayfs roots under the engine root."""

from pathlib import Path

from engine.containers import health
from engine.containers.flags import ImageDefaults
from engine.errors import EngineError
from engine.images import api, rootfs
from engine.images.errors import ImageError
from engine.lifecycle.backends import ResolvedImage


class StoreImages:
    """Images from the local store; `busybox` is built from the host's busybox-static."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"StoreImages({str(self.root)!r})"

    def resolve(self, ref: str) -> ResolvedImage:
        # Its kind stays (a missing image is a NotFoundError: 404 in the API); the CLI makes
        # every failure of `create` and `run` exit 125 at its own edge.
        image = api.resolve(self.root, ref)
        c = image.config
        return ResolvedImage(
            image.id,
            ImageDefaults(
                cmd=c.cmd,
                entrypoint=c.entrypoint,
                env=c.env,
                workdir=c.working_dir,
                user=c.user,
                exposed=c.exposed_ports,
                stop_signal=c.stop_signal,
                volumes=c.volumes,
                healthcheck=health.from_docker(c.healthcheck),
            ),
        )

    def prepare_rootfs(self, container_id: str, image_id: str) -> Path:
        try:
            return rootfs.prepare(self.root, container_id, api.find(self.root, image_id))
        except ImageError as exc:
            raise EngineError(str(exc)) from None

    def unmount_rootfs(self, container_id: str) -> None:
        rootfs.unmount(self.root, container_id)

    def release_rootfs(self, container_id: str) -> None:
        rootfs.release(self.root, container_id)
