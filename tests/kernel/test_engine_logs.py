"""`pyengine logs` over the json-file logs the shims write (checklist group D, items 46-51)."""

import datetime
import json
import re
import time

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

# The file holds Go's RFC3339Nano (trailing zeros trimmed); `logs -t` pads to 9 digits.
RFC3339NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
RFC3339NANO_FIXED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def _exited(engine: EngineEnv, name: str) -> bool:
    return bool(engine.state(name)["Status"] == "exited")


def test_streams_tail_timestamps_and_the_file(engine: EngineEnv) -> None:
    script = "echo o1; echo e1 >&2; echo o2; echo e2 >&2; printf 'no newline'"
    cid = engine.ok("run", "-d", "--name", "talk", "busybox", "sh", "-c", script).strip()
    wait_for(lambda: _exited(engine, "talk"), 20, "talk to exit")
    done = engine("logs", "talk")
    assert done.returncode == 0
    assert done.stdout == "o1\no2\nno newline"
    assert done.stderr == "e1\ne2\n"

    # Docker's json-file format: one object per line, `log` keeps its newline, RFC3339Nano UTC.
    path = engine.root / "containers" / cid / f"{cid}-json.log"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    by_stream: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for entry in entries:
        assert set(entry) >= {"log", "stream", "time"}
        assert RFC3339NANO.match(entry["time"]), entry["time"]
        by_stream[entry["stream"]].append(entry["log"])
    assert "".join(by_stream["stdout"]) == "o1\no2\nno newline"
    assert "".join(by_stream["stderr"]) == "e1\ne2\n"
    assert by_stream["stdout"][-1] == "no newline"  # a partial line at exit is its own entry

    # --tail N: the last N entries of both streams, in file order.
    tail = engine("logs", "--tail", "2", "talk")
    last_two = entries[-2:]
    assert tail.stdout == "".join(e["log"] for e in last_two if e["stream"] == "stdout")
    assert tail.stderr == "".join(e["log"] for e in last_two if e["stream"] == "stderr")
    assert engine("logs", "-n", "0", "talk").stdout == ""
    assert engine("logs", "--tail", "all", "talk").stdout == done.stdout
    assert engine("logs", "--tail", "-1", "talk").stdout == done.stdout  # negative: all

    # -t: each line prefixed with the entry's RFC3339Nano time and a space.
    stamped = engine("logs", "-t", "talk")
    lines = stamped.stdout.split("\n")
    assert lines[0] == f"{by_time(entries, 'o1')} o1"
    for line in filter(None, lines):
        stamp, _, _ = line.partition(" ")
        assert RFC3339NANO_FIXED.match(stamp), line
    assert stamped.stderr.startswith(f"{by_time(entries, 'e1')} e1\n")


def by_time(entries: list[dict[str, str]], text: str) -> str:
    """The entry's time as `logs -t` prints it: nanoseconds zero-padded to 9 digits."""
    (found,) = [e["time"] for e in entries if e["log"].rstrip("\n") == text]
    seconds, _, fraction = found.removesuffix("Z").partition(".")
    return f"{seconds}.{fraction.ljust(9, '0')}Z"


def test_since_and_until(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "slow", "busybox", "sh", "-c",
              "echo early; sleep 1.2; echo late")  # fmt: skip
    wait_for(lambda: _exited(engine, "slow"), 20, "slow to exit")
    cid = engine.inspect("slow")["Id"]
    entries = [
        json.loads(line)
        for line in (engine.root / "containers" / cid / f"{cid}-json.log").read_text().splitlines()
    ]
    late = next(e["time"] for e in entries if e["log"] == "late\n")
    late_at = datetime.datetime.fromisoformat(late[:26] + "+00:00")
    between = (late_at - datetime.timedelta(seconds=0.5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert engine.ok("logs", "--since", between, "slow") == "late\n"
    assert engine.ok("logs", "--until", between, "slow") == "early\n"
    # Unix seconds, and a duration relative to now.
    assert engine.ok("logs", "--since", f"{late_at.timestamp() - 0.5:.3f}", "slow") == "late\n"
    assert engine.ok("logs", "--since", "1h", "slow") == "early\nlate\n"
    assert engine.ok("logs", "--since", "2099-01-01T00:00:00Z", "slow") == ""


def test_follow_returns_when_the_container_exits(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "stream", "busybox", "sh", "-c",
              "echo first; sleep 1; echo second; sleep 0.3; echo third")  # fmt: skip
    follower = engine.popen("logs", "-f", "stream", text=True)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out == "first\nsecond\nthird\n"
    assert engine.state("stream")["Status"] == "exited"
    # -f on an exited container prints what is there and returns.
    done = engine("logs", "-f", "--tail", "1", "stream", timeout=30)
    assert (done.returncode, done.stdout) == (0, "third\n")


def test_follow_sees_a_stop(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "endless", "busybox", "sh", "-c",
              'trap "echo bye; exit 0" TERM; echo hello; while :; do sleep 0.1; done')  # fmt: skip
    wait_for(lambda: engine.ok("logs", "endless") == "hello\n", 10, "hello")
    follower = engine.popen("logs", "-f", "endless", text=True)
    time.sleep(0.3)  # let it start following (no claim about its speed)
    assert follower.poll() is None  # still following a live container
    engine.ok("stop", "endless")
    out, _ = follower.communicate(timeout=30)
    assert out == "hello\nbye\n"


def test_logs_survive_stop_and_restart_and_go_with_rm(engine: EngineEnv) -> None:
    script = 'trap "exit 0" TERM; echo run; while :; do sleep 0.1; done'
    cid = engine.ok("run", "-d", "--name", "keeper", "busybox", "sh", "-c", script).strip()
    wait_for(lambda: engine.ok("logs", "keeper") == "run\n", 10, "the first line")
    engine.ok("stop", "keeper")
    assert engine.ok("logs", "keeper") == "run\n"
    engine.ok("start", "keeper")
    wait_for(lambda: engine.ok("logs", "keeper") == "run\nrun\n", 10, "the second run's line")
    engine.ok("restart", "keeper")
    wait_for(lambda: engine.ok("logs", "keeper") == "run\nrun\nrun\n", 10, "the third line")
    log = engine.root / "containers" / cid / f"{cid}-json.log"
    assert log.exists()
    engine.ok("rm", "-f", "keeper")
    assert not log.exists() and not log.parent.exists()
    done = engine("logs", "keeper")
    assert done.returncode == 1 and "No such container: keeper" in done.stderr


def test_long_line_is_split_and_rejoins(engine: EngineEnv) -> None:
    # 40000 characters and a newline: entries of at most 16 KiB that rejoin to the line.
    engine.ok("run", "-d", "--name", "long", "busybox", "sh", "-c",
              "head -c 40000 /dev/zero | tr '\\0' x; echo")  # fmt: skip
    wait_for(lambda: _exited(engine, "long"), 20, "long to exit")
    cid = engine.inspect("long")["Id"]
    path = engine.root / "containers" / cid / f"{cid}-json.log"
    parts = [json.loads(line)["log"] for line in path.read_text().splitlines()]
    assert len(parts) >= 3 and all(len(p.encode()) <= 16384 for p in parts)
    assert "".join(parts) == "x" * 40000 + "\n"
    assert engine.ok("logs", "long") == "x" * 40000 + "\n"


def test_log_opts_rotate_and_logs_reads_across_rotations(engine: EngineEnv) -> None:
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"
    cid = engine.ok(
        "run", "-d", "--name", "rot", "--log-opt", "max-size=2k", "--log-opt", "max-file=3",
        "busybox", "sh", "-c", script,
    ).strip()  # fmt: skip
    wait_for(lambda: _exited(engine, "rot"), 20, "rot to exit")
    folder = engine.root / "containers" / cid
    logs = sorted(p.name for p in folder.glob(f"{cid}-json.log*"))
    # At most max-file files: the current one and two rotations, the oldest dropped.
    assert logs == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert all(p.stat().st_size <= 2048 + 200 for p in folder.glob(f"{cid}-json.log*"))
    shown = engine.ok("logs", "rot").splitlines()
    assert shown[-1] == "line-299"
    assert shown == [f"line-{i}" for i in range(300 - len(shown), 300)]  # in order, no gaps
    assert len(shown) < 300  # the oldest entries went with the dropped file
    bad = engine("run", "--rm", "--log-opt", "max-file=2", "busybox", "true")
    assert bad.returncode == 125 and "max-file can only be used with max-size" in bad.stderr
