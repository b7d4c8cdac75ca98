"""Who uses an image, for `rmi` and `image prune`: the engine's container records (running or
not) together with the users the image store keeps itself."""

from collections.abc import Sequence
from pathlib import Path

from engine.containers.store import ContainerStore
from engine.images.users import CombinedUsers, ImageUser, ImageUsers, UsersDir

RUNNING = ("running", "paused", "restarting")


class ContainerRecordUsers:
    """Containers the engine has records of, with whether they run (the store cannot know)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def users(self, image_id: str) -> Sequence[ImageUser]:
        return [
            ImageUser(r.id, r.state.status in RUNNING)
            for r in ContainerStore(self.root).all()
            if r.config.image_id == image_id
        ]


def image_users(root: Path) -> ImageUsers:
    return CombinedUsers(UsersDir(root), ContainerRecordUsers(root))
