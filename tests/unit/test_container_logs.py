"""Reading json-file logs as `docker logs` prints them."""

import gzip
import json
from pathlib import Path

import pytest

from engine.containers import logs
from engine.containers.errors import InvalidOptionError


def line(text: str, stream: str, second: int) -> str:
    stamp = f"2026-11-28T00:00:{second:02d}.123456789Z"
    return json.dumps({"log": text, "stream": stream, "time": stamp}) + "\n"


@pytest.fixture
def rotated_log(tmp_path: Path) -> Path:
    path = tmp_path / "c-json.log"
    with gzip.open(tmp_path / "c-json.log.2.gz", "wt") as f:
        f.write(line("one\n", "stdout", 1))
    (tmp_path / "c-json.log.1").write_text(
        line("two\n", "stderr", 2) + line("three\n", "stdout", 3)
    )
    (tmp_path / "c-json.log.x").write_text("not a rotation\n")
    # The last line is torn: the shim was writing it.
    path.write_text(line("four", "stdout", 4) + '{"log":"fi')
    return path


def test_rotations_are_read_oldest_first(rotated_log: Path) -> None:
    assert [e.text for e in logs.read_entries(rotated_log)] == ["one\n", "two\n", "three\n", "four"]
    assert [e.stream for e in logs.read_entries(rotated_log)][:2] == ["stdout", "stderr"]


def test_tail_since_until(rotated_log: Path) -> None:
    assert [e.text for e in logs.read_entries(rotated_log, tail=2)] == ["three\n", "four"]
    assert logs.read_entries(rotated_log, tail=0) == []
    base = logs.parse_time_arg("2026-11-28T00:00:02Z", now=0)
    assert [e.text for e in logs.read_entries(rotated_log, since=base, until=base + 1.5)] == [
        "two\n",
        "three\n",
    ]


def test_tail_values_like_docker() -> None:
    assert logs.parse_tail("5") == 5
    assert logs.parse_tail("all") == -1
    assert logs.parse_tail("-3") == -1


def test_time_arguments() -> None:
    assert logs.parse_time_arg("1700000000.5", now=0) == 1700000000.5
    assert logs.parse_time_arg("10m", now=1000.0) == 400.0
    assert logs.parse_time_arg("1h30m", now=6000.0) == 600.0
    assert logs.parse_time_arg("2026-11-28T00:00:00+00:00", now=0) == 1795824000.0
    with pytest.raises(InvalidOptionError, match="failed to parse value as time or duration"):
        logs.parse_time_arg("yesterday", now=0)


def test_timestamps_are_fixed_width_nanoseconds(rotated_log: Path) -> None:
    entry = logs.read_entries(rotated_log)[0]
    assert logs.render(entry, timestamps=True) == "2026-11-28T00:00:01.123456789Z one\n"
    short = logs.LogEntry("x\n", "stdout", "2026-11-28T00:00:01.5Z", 0.0)
    assert logs.render(short, timestamps=True) == "2026-11-28T00:00:01.500000000Z x\n"
    assert logs.render(short, timestamps=False) == "x\n"
