"""The event log: whole lines under concurrent appenders, time filters, following new events."""

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from engine.containers import events


def test_append_read_and_filter(tmp_path: Path) -> None:
    events.append(tmp_path, events.Event("create", "a" * 64, "web", "busybox", time_ns=10))
    events.append(tmp_path, events.Event("die", "a" * 64, "web", "busybox", 20, exit_code=7))
    got = list(events.read(tmp_path))
    assert [e.action for e in got] == ["create", "die"]
    assert got[1].exit_code == 7
    assert [e.action for e in events.read(tmp_path, since_ns=15)] == ["die"]
    assert [e.action for e in events.read(tmp_path, until_ns=15)] == ["create"]
    assert "container die " + "a" * 64 + " (exitCode=7, image=busybox, name=web)" in got[1].line()


def test_concurrent_writers_keep_whole_lines(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from engine.containers import events
        for i in range(200):
            events.append(Path({str(tmp_path)!r}), events.Event("start", "x" * 64, "n" * 100))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    lines = (tmp_path / events.FILE).read_bytes().splitlines()
    assert len(lines) == 800
    assert len(list(events.read(tmp_path))) == 800


def test_the_log_rotates_once_and_reads_both_files(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(events, "MAX_BYTES", 300)
    for i in range(20):
        events.append(tmp_path, events.Event("start", str(i), time_ns=i + 1))
    assert (tmp_path / (events.FILE + ".1")).exists()
    ids = [e.id for e in events.read(tmp_path)]
    assert ids == sorted(ids, key=int) and ids[-1] == "19" and len(ids) < 20


def test_follow_yields_events_written_later(tmp_path: Path) -> None:
    events.append(tmp_path, events.Event("old", "1", time_ns=1))
    seen: list[str] = []

    def reader() -> None:
        for event in events.follow(tmp_path, since_ns=2, poll=0.01):
            seen.append(event.action)
            if len(seen) == 2:
                return

    thread = threading.Thread(target=reader)
    thread.start()
    events.append(tmp_path, events.Event("start", "1"))
    events.append(tmp_path, events.Event("die", "1", exit_code=0))
    thread.join(timeout=10)
    assert seen == ["start", "die"]
