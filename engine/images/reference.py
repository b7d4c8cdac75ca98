"""Image references with Docker's grammar and normalization.

`busybox`, `busybox:latest`, `library/busybox` and `docker.io/library/busybox:latest` name the
same image: the domain defaults to `docker.io`, a one-component path on it gains `library/`, and
the tag defaults to `latest`. The familiar form drops what the defaults add, as `docker images`
shows it. (distribution/reference `normalize.go`, `regexp.go`.)
"""

import re
from dataclasses import dataclass

from engine.images.errors import InvalidReferenceError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = re.compile(rf"^{_HOST}(?::[0-9]+)?$")
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_FULL_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized reference: `domain/path[:tag][@digest]`; `tag` is set unless by digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """`docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """`busybox`, `user/app`, `ghcr.io/x/y`: the repository as `docker images` shows it."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        return self.path.removeprefix(OFFICIAL_PREFIX)

    def __str__(self) -> str:
        """The fully qualified form, used as the key in the store."""
        return (
            self.repository
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )

    def familiar(self) -> str:
        """`busybox:latest`: the form Docker prints in messages."""
        return (
            self.familiar_repository
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def _fail(why: str = "") -> InvalidReferenceError:
    return InvalidReferenceError("invalid reference format" + (f": {why}" if why else ""))


def parse(text: str) -> Reference:
    """Parse and normalize `text`; the tag defaults to `latest` unless a digest is given."""
    name, digest = text, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST.match(digest):
            raise _fail()
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise _fail()
    if not name or len(name) > NAME_MAX:
        raise _fail(f"repository name must be between 1 and {NAME_MAX} characters")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
        if not _DOMAIN.match(domain):
            raise _fail()
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if path != path.lower():
        raise _fail(f"repository name ({path}) must be lowercase")
    if not _PATH.match(path):
        raise _fail()
    if _FULL_ID.match(name):
        raise _fail(f"invalid repository name ({name}), cannot specify 64-byte hexadecimal")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def full_id(text: str) -> str | None:
    """`sha256:<64 hex>` when `text` is a complete image id (with or without `sha256:`)."""
    match = _FULL_ID.match(text)
    return f"sha256:{match.group(1)}" if match else None


def id_prefix(text: str) -> str | None:
    """The hex digits of a short id (`a416a98b`, `sha256:a416`), or None if it cannot be one."""
    hex_part = text.removeprefix("sha256:")
    if hex_part and len(hex_part) <= 64 and re.fullmatch(r"[0-9a-f]+", hex_part):
        return hex_part
    return None


def short_id(image_id: str) -> str:
    """The 12 hex digits `docker images` shows."""
    return image_id.removeprefix("sha256:")[:12]
