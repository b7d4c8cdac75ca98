"""LogCursor: a followed log read from where the last look ended, lines being written waited
for, a rotated log read again by time."""

import json
from pathlib import Path
from typing import Any, cast

from engine.containers.errors import NoSuchContainerError
from engine.containers.store import ContainerStore
from engine.lifecycle.streams import LogCursor, LogsRequest


class GoneStore:
    def find(self, ref: str) -> Any:
        raise NoSuchContainerError(ref)


def line(text: str, second: int) -> bytes:
    stamp = f"2026-12-07T10:00:{second:02d}.000000000Z"
    return json.dumps({"log": text + "\n", "stream": "stdout", "time": stamp}).encode() + b"\n"


def test_more_reads_on_from_the_last_whole_line(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(line("a", 1) + line("b", 2)[:10])  # b is being written
    cursor = LogCursor(cast(ContainerStore, GoneStore()), log, "c", LogsRequest(follow=True))
    assert [e.text for e in cursor.first()] == ["a\n"]
    assert cursor.more() == ([], False)
    with open(log, "ab") as f:
        f.write(line("b", 2)[10:] + line("c", 3) + line("d", 4)[:5])
    assert [e.text for e in cursor.more()[0]] == ["b\n", "c\n"]
    with open(log, "ab") as f:
        f.write(line("d", 4)[5:])
    assert [e.text for e in cursor.more()[0]] == ["d\n"]
    # Rotated: a new file; only what is newer than what was shown comes.
    log.unlink()
    log.write_bytes(line("d", 4) + line("e", 5))
    assert [e.text for e in cursor.more()[0]] == ["e\n"]
    assert cursor.more()[0] == []
