"""Errors about images and container root filesystems.

EngineError
└── ImageError
    ├── InvalidReferenceError  a name or tag Docker's grammar refuses           (parameter)
    ├── InvalidChangeError     an `import --change` line that is no instruction (parameter)
    ├── ImageNotFoundError     "No such image: X"                                (not found)
    ├── AmbiguousImageError    a short id that matches more than one image       (parameter)
    ├── ImageConflictError     rmi of an image in use, or of a multi-tag image by id (conflict)
    ├── InvalidArchiveError    load/import input that is not a usable archive    (parameter)
    │   └── UnsafeLayerError   a layer entry that would land outside its layer
    ├── StoreError             the store on disk is damaged or cannot be written
    └── RootfsError            a container root filesystem could not be mounted or removed

The kinds in brackets are engine/errors.py's: InvalidParameterError, NotFoundError,
StateConflictError.
"""

from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError


class ImageError(EngineError):
    """An image operation could not be done."""


class InvalidReferenceError(ImageError, InvalidParameterError):
    """A reference that Docker's reference grammar refuses."""


class InvalidChangeError(ImageError, InvalidParameterError):
    """An `import --change` instruction that Docker would refuse."""


class ImageNotFoundError(ImageError, NotFoundError):
    """No image has this reference, id or id prefix."""

    def __init__(self, ref: str, hint: str = "") -> None:
        super().__init__(f"No such image: {ref}" + (f" ({hint})" if hint else ""))
        self.ref = ref


class AmbiguousImageError(ImageError, InvalidParameterError):
    """A short id that is the prefix of several image ids."""


class ImageConflictError(ImageError, StateConflictError):
    """The image is in use or would be removed more broadly than asked."""


class InvalidArchiveError(ImageError, InvalidParameterError):
    """A tarball or image archive that is truncated, corrupt or not of a known format."""


class UnsafeLayerError(InvalidArchiveError):
    """A layer entry that points outside the layer (`..`, a path through a symlink)."""


class StoreError(ImageError):
    """The image store cannot be read or written."""


class RootfsError(ImageError):
    """A container's copy-on-write root could not be set up or torn down."""
