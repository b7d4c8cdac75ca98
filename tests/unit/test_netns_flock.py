"""netns.flock: one holder at a time across processes (shared holders together); a try never
creates what is gone."""

import subprocess
import sys
import textwrap
from pathlib import Path

from netns.flock import flocked


def test_a_try_fails_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from netns.flock import flocked
                with flocked(Path({str(tmp_path)!r}) / ".lock"):
                    print("held", flush=True)
                    sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "held\n"
    with flocked(tmp_path / ".lock", wait=False) as held:
        assert held is False
    holder.stdin.close()  # the holder exits and the kernel drops its lock
    assert holder.wait(timeout=30) == 0
    holder.stdout.close()
    with flocked(tmp_path / ".lock", wait=False) as held:
        assert held is True


def test_a_try_on_a_removed_directory_creates_nothing(tmp_path: Path) -> None:
    gone = tmp_path / "container"
    with flocked(gone / ".lock", wait=False) as held:
        assert held is False
    assert not gone.exists()
    with flocked(gone / ".lock") as held:
        assert held is True
    assert (gone / ".lock").exists()


def test_shared_holders_hold_together_and_keep_an_exclusive_one_out(tmp_path: Path) -> None:
    lock = tmp_path / "gc.lock"
    with flocked(lock, shared=True) as first, flocked(lock, shared=True, wait=False) as second:
        assert first and second  # separate descriptors: flock(2) sees two holders
        with flocked(lock, wait=False) as exclusive:
            assert exclusive is False
    with flocked(lock, wait=False) as exclusive:
        assert exclusive is True
