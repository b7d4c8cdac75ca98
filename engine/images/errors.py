"""Errors about images and container root filesystems.

Every image command of `docker` (images, rmi, load, import, image inspect) exits 1 when the
daemon refuses, whatever the reason, so the whole tree carries exit code 1; `pyengine run`
reports an image it cannot resolve as 125, as `docker run` does, by catching `ImageError`.

EngineError
└── ImageError                 (1)
    ├── InvalidReferenceError  a name or tag Docker's grammar refuses
    ├── InvalidChangeError     an `import --change` line that is not a config instruction
    ├── ImageNotFoundError     "No such image: X"
    ├── AmbiguousImageError    a short id that matches more than one image
    ├── ImageConflictError     rmi of an image a container uses, or a multi-tag image by id
    ├── InvalidArchiveError    load/import input that is not a usable archive
    │   └── UnsafeLayerError   a layer entry that would land outside its layer
    ├── StoreError             the store on disk is damaged or cannot be written
    └── RootfsError            a container root filesystem could not be mounted or removed
"""

from engine.errors import EngineError


class ImageError(EngineError):
    """An image operation could not be done."""

    exit_code = 1


class InvalidReferenceError(ImageError):
    """A reference that Docker's reference grammar refuses."""


class InvalidChangeError(ImageError):
    """An `import --change` instruction that Docker would refuse."""


class ImageNotFoundError(ImageError):
    """No image has this reference, id or id prefix."""

    def __init__(self, ref: str, hint: str = "") -> None:
        super().__init__(f"No such image: {ref}" + (f" ({hint})" if hint else ""))
        self.ref = ref


class AmbiguousImageError(ImageError):
    """A short id that is the prefix of several image ids."""


class ImageConflictError(ImageError):
    """The image is in use or would be removed more broadly than asked."""


class InvalidArchiveError(ImageError):
    """A tarball or image archive that is truncated, corrupt or not of a known format."""


class UnsafeLayerError(InvalidArchiveError):
    """A layer entry that points outside the layer (`..`, a path through a symlink)."""


class StoreError(ImageError):
    """The image store cannot be read or written."""


class RootfsError(ImageError):
    """A container's copy-on-write root could not be set up or torn down."""
