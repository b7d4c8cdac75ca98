"""The netns exception tree; every error this package raises derives from `NetnsError`.

NetnsError
├── NetnsNameError       a name that `ip netns` could not use either ("", ".", "a/b", too long)
├── NetnsExistsError     create() of a name that is already taken (the existing one is untouched)
├── NetnsNotFoundError   open/enter of a namespace that does not exist (or is not a namespace)
└── NetnsOSError         a system call failed; carries the errno of the OSError it wraps
"""


class NetnsError(Exception):
    """Base of every error raised by `netns`."""


class NetnsNameError(NetnsError, ValueError):
    """The namespace name cannot be used."""


class NetnsExistsError(NetnsError):
    """A namespace with that name already exists."""


class NetnsNotFoundError(NetnsError):
    """No network namespace at that name or path."""


class NetnsOSError(NetnsError):
    """A system call failed while handling a namespace."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno
