"""State that can hold secrets stays private: 0600 files under 0700 roots, whatever the umask.

A container's record and its OCI config.json carry its `-e` values (passwords, tokens). The
caller's umask decides nothing here: a directory made by `mkdir` under umask 022 is 0755 and a
file 0644, readable by every local user. So the state and run roots are made (or narrowed to)
0700, as Podman keeps its storage, and files that may hold secrets are created 0600 and
replaced atomically.
"""

import contextlib
import os
import stat
from pathlib import Path

from engine.errors import EngineError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def ensure_private_dir(path: Path) -> None:
    """`path` exists, owned by us, with no access for group or others (narrowed if it had)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077)


def ensure_private_roots(*roots: Path) -> None:
    """`ensure_private_dir` for an engine's state and run roots, before a command writes under
    them; a root that cannot be made so is that command's error."""
    for root in roots:
        try:
            ensure_private_dir(root)
        except OSError as e:
            raise EngineError(f"cannot make the state directory {root} private: {e}") from None


def write_private(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace `path` with `text`, mode 0600, atomically: a killed writer leaves the old file or
    the new one. `durable` also survives a power loss (fsync)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # a killed writer's leftover (same pid): O_CREAT would keep its mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
