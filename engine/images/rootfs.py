"""Each container's copy-on-write root: overlayfs over the image's shared layers.

    <root>/rootfs/<container id>/upper/    the container's own changes (kept across restarts)
                                /work/     overlayfs scratch space
                                /merged/   the mount: what the runtime uses as root.path
                                /image     the image id;  /layers  the diff ids mounted

`prepare` is idempotent (a mounted root is returned as is, an unmounted one after a reboot is
mounted again over its kept upper dir); `unmount` keeps the changes for a later start;
`release` unmounts and deletes and tolerates absence. `/layers` keeps those layers in the store
even after `rmi -f`, and `list_rootfs` lets a garbage collector find roots whose container is
gone. Mounts are made in the caller's mount namespace, which must be the host's (or one the
runtime inherits).
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.images import mounts
from engine.images.errors import RootfsError
from engine.images.model import Image
from engine.images.store import ROOTFS_DIR, ROOTFS_LAYERS, Store
from engine.images.users import check_container_id, mark_used_locked, unmark_used

# overlayfs splits its options on these; a root path holding one cannot be passed safely.
_UNSAFE = (",", ":", "\\")


@dataclass(frozen=True, slots=True)
class RootfsInfo:
    """A container root found on disk."""

    container_id: str
    path: Path
    image_id: str
    mounted: bool


def rootfs_dir(root: Path, container_id: str) -> Path:
    """The directory holding one container's upper, work and merged dirs."""
    return root / ROOTFS_DIR / check_container_id(container_id)


def _mount(lowers: list[Path], upper: Path, work: Path, target: Path) -> None:
    for path in (*lowers, upper, work):
        if any(c in str(path) for c in _UNSAFE):
            raise RootfsError(f"cannot mount overlay: path {path} contains one of , : \\")
    # index=off: the same lower layers are shared by many overlays with different uppers,
    # which an index would refuse (Docker's overlay2 turns it off for the same reason).
    options = {"upperdir": str(upper), "workdir": str(work), "index": "off"}
    data = ",".join(
        [f"lowerdir={':'.join(map(str, lowers))}"] + [f"{k}={v}" for k, v in options.items()]
    )
    if len(data) < os.sysconf("SC_PAGESIZE"):
        mounts.mount("overlay", target, "overlay", data)
    else:
        # mount(2) takes one page of options: about 40 layers under /var/lib/pyengine
        mounts.mount_overlay_layers(lowers, options, target)


def prepare(root: Path, container_id: str, image: Image) -> Path:
    """Mount the container's root (idempotent) and return it, for `root.path` in config.json."""
    home = rootfs_dir(root, container_id)
    merged = home / "merged"
    store = Store(root)
    with store.locked():
        recorded = _read(home / "image")
        if recorded and recorded != image.id:
            raise RootfsError(f"container {container_id} already has a root from image {recorded}")
        lowers = [store.layer_dir(d) for d in reversed(image.layers)]  # topmost first
        missing = [str(p) for p in lowers if not p.is_dir()]
        if missing:
            raise RootfsError(f"image {image.short_id} is missing layers in the store: {missing}")
        if not lowers:
            raise RootfsError(f"image {image.short_id} has no layers")
        if merged in mounts.mounted_under(merged):
            return merged
        try:
            for sub in ("upper", "work", "merged"):
                (home / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(home / "upper", 0o755)
            _write(home / ROOTFS_LAYERS, "\n".join(image.layers) + "\n")
            _write(home / "image", image.id + "\n")
            mark_used_locked(root, image.id, container_id)
            _mount(lowers, home / "upper", home / "work", merged)
        except OSError as exc:
            if not recorded:  # a root this call created: leave nothing half made
                _remove(root, container_id, home)
            raise RootfsError(f"could not mount the root of {container_id}: {exc}") from None
    return merged


def unmount(root: Path, container_id: str) -> None:
    """Unmount the container's root and keep its changes; not mounted is fine."""
    home = rootfs_dir(root, container_id)
    try:
        for point in mounts.mounted_under(home):
            mounts.unmount(point)
    except OSError as exc:
        raise RootfsError(f"could not unmount the root of {container_id}: {exc}") from None


def release(root: Path, container_id: str) -> None:
    """Unmount and delete the container's root and its use of the image; absent is fine."""
    home = rootfs_dir(root, container_id)
    unmount(root, container_id)
    with Store(root).locked():
        _remove(root, container_id, home)


def _remove(root: Path, container_id: str, home: Path) -> None:
    try:
        if home.exists():
            shutil.rmtree(home)
    except OSError as exc:
        raise RootfsError(f"could not remove the root of {container_id}: {exc}") from None
    unmark_used(root, container_id)


def list_rootfs(root: Path) -> list[RootfsInfo]:
    """Every container root on disk, for a collector to compare with the known containers."""
    base = root / ROOTFS_DIR
    if not base.is_dir():
        return []
    points = set(mounts.mountpoints())
    return [
        RootfsInfo(
            container_id=entry.name,
            path=entry,
            image_id=_read(entry / "image"),
            mounted=str(entry / "merged") in points,
        )
        for entry in sorted(base.iterdir())
        if entry.is_dir()
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def collect(root: Path, keep: set[str]) -> list[str]:
    """Release every container root whose id is not in `keep`; returns the ids released."""
    gone = [info.container_id for info in list_rootfs(root) if info.container_id not in keep]
    for container_id in gone:
        release(root, container_id)
    return gone
