"""A container's `-e` values are secrets: no local user but root reads them, whatever umask the
caller has (issue 13). Before, record.json and the OCI config.json were 0644 under 0755
directories: any user could read every container's passwords."""

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

SECRET = "hunter2-not-for-your-eyes"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The caller's umask, inherited by pyengine (and forwarded by its fork server)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files_holding(root: Path, text: bytes) -> list[Path]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file() or "rootfs" in path.parts:
                continue
            with contextlib.suppress(OSError):
                if text in path.read_bytes():
                    found.append(path)
    return found


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_state_with_secrets_is_private_whatever_the_umask(engine: EngineEnv, mask: int) -> None:
    # A root left open by an older version (or made by hand) is narrowed, not trusted.
    engine.root.mkdir(mode=0o755, exist_ok=True)
    os.chmod(engine.root, 0o755)
    with umask(mask):
        engine.ok("run", "-d", "--name", "sec", "-e", f"TOKEN={SECRET}", "busybox", "sleep", "60")
    assert mode(engine.root) == 0o700
    assert mode(engine.run_root) == 0o700
    holders = files_holding(engine.root, SECRET.encode()) + files_holding(
        engine.run_root, SECRET.encode()
    )
    names = {p.name for p in holders}
    assert {"record.json", "config.json"} <= names, holders
    for path in holders:
        assert mode(path) & 0o077 == 0, f"{path} is {mode(path):o}"
    # The container got its value all the same.
    assert engine.ok("exec", "sec", "sh", "-c", "echo $TOKEN").strip() == SECRET
    engine.ok("rm", "-f", "sec")
