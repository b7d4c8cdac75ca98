"""Shim parts without processes: json-file log and rotation, state machine, config parsing."""

import json
import os

import pytest

from engine.runtime.errors import InvalidContainerIDError
from engine.shim.logfile import PARTIAL, JsonFileLog, parse_size, rfc3339nano
from engine.shim.process import Process, exit_code
from engine.shimapi.config import ShimConfig
from engine.shimapi.errors import InvalidArgumentError, TaskConflictError
from engine.shimapi.exitfile import ExitStatus, read_exit, write_exit


def read_log(path: "str | os.PathLike[str]") -> list[dict[str, str]]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_rfc3339nano_trims_like_go():
    assert rfc3339nano(0) == "1970-01-01T00:00:00Z"
    assert rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert rfc3339nano(123) == "1970-01-01T00:00:00.000000123Z"


def test_lines_streams_and_partials(tmp_path):
    log = JsonFileLog(str(tmp_path / "c-json.log"))
    log.write("stdout", b"a\nb", ns=0)
    log.write("stderr", b"e\n", ns=0)
    log.write("stdout", b"c\n\xff\n", ns=0)
    log.write("stdout", b"tail", ns=0)
    log.close()
    entries = read_log(tmp_path / "c-json.log")
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "a\n"),
        ("stderr", "e\n"),
        ("stdout", "bc\n"),
        ("stdout", "\ufffd\n"),
        ("stdout", "tail"),
    ]
    assert entries[0]["time"] == "1970-01-01T00:00:00Z"


def test_long_lines_split_at_16k_and_rejoin(tmp_path):
    log = JsonFileLog(str(tmp_path / "l.log"))
    line = b"x" * (PARTIAL * 2 + 10) + b"\n"
    log.write("stdout", line)
    log.close()
    parts = [e["log"] for e in read_log(tmp_path / "l.log")]
    assert [len(p) for p in parts] == [PARTIAL, PARTIAL, 11]
    assert "".join(parts).encode() == line


@pytest.mark.parametrize("max_file", [1, 3])
def test_rotation_keeps_max_file_files(tmp_path, max_file):
    path = tmp_path / "r.log"
    log = JsonFileLog(str(path), max_size=500, max_file=max_file)
    for i in range(100):
        log.write("stdout", f"line-{i}\n".encode())
    log.close()
    names = sorted(os.listdir(tmp_path))
    assert names == ["r.log"] + [f"r.log.{n}" for n in range(1, max_file)]
    for name in names:
        assert os.path.getsize(tmp_path / name) < 500 + 100
    assert read_log(path)[-1]["log"] == "line-99\n"
    if max_file == 3:
        first_of_1 = read_log(tmp_path / "r.log.1")[0]["log"]
        last_of_2 = read_log(tmp_path / "r.log.2")[-1]["log"]
        assert int(first_of_1[5:]) == int(last_of_2[5:]) + 1  # .2 is older than .1


def test_log_option_validation(tmp_path):
    with pytest.raises(ValueError):
        JsonFileLog(str(tmp_path / "x"), max_size=0)
    with pytest.raises(ValueError):
        JsonFileLog(str(tmp_path / "x"), max_file=0)
    assert parse_size("10k") == 10240 and parse_size("2m") == 2 << 20 and parse_size("-1") == -1
    with pytest.raises(ValueError):
        parse_size("0")


def test_state_machine_messages():
    p = Process()
    with pytest.raises(TaskConflictError, match="cannot pause task in created state"):
        p.transition("pause")
    p.transition("start")
    with pytest.raises(TaskConflictError, match="cannot start task in running state"):
        p.transition("start")
    with pytest.raises(TaskConflictError, match="cannot delete task in running state"):
        p.transition("delete")
    p.transition("pause")
    for action in ("start", "exec", "delete", "pause"):
        with pytest.raises(TaskConflictError, match="paused state"):
            p.check(action)
    p.transition("resume")
    waited: list[Process] = []
    p.waiters.append(waited.append)
    waiters = p.set_exited(137, 5)
    assert waiters and not p.waiters and p.state == "stopped"
    for action in ("start", "kill", "pause", "exec"):
        with pytest.raises(TaskConflictError, match="stopped state"):
            p.check(action)
    p.transition("delete")
    assert p.state == "deleted"
    e = Process("e1")
    with pytest.raises(TaskConflictError, match="cannot pause exec e1 in created state"):
        e.check("pause")


@pytest.mark.parametrize(("status", "code"), [(0, 0), (7 << 8, 7), (9, 137), (15, 143)])
def test_exit_code_math(status, code):
    assert exit_code(status) == code


def test_exit_record_roundtrip(tmp_path):
    path = str(tmp_path / "exit.json")
    assert read_exit(path) is None
    write_exit(path, ExitStatus(143, 99, 7, True))
    got = read_exit(path)
    assert got is not None
    assert (got.exit_status, got.exited_at, got.pid, got.oom_killed) == (143, 99, 7, True)
    assert os.listdir(tmp_path) == ["exit.json"]


def test_config_from_argv_and_back(tmp_path):
    argv = [
        "--id",
        "pyt-1",
        "--bundle",
        str(tmp_path),
        "--run-root=/tmp/r",
        "--root",
        "/tmp/p",
        "--runtime",
        "/x/runc",
        "--runtime-arg=--debug",
        "--log-max-size",
        "1024",
    ]
    cfg = ShimConfig.from_argv(argv)
    assert (cfg.id, cfg.runtime, cfg.runtime_args, cfg.log_max_size) == (
        "pyt-1",
        "/x/runc",
        ("--debug",),
        1024,
    )
    again = ShimConfig.from_argv(cfg.argv())
    assert again.to_json() == cfg.to_json() == ShimConfig.from_json(cfg.to_json()).to_json()
    assert cfg.layout.socket == "/tmp/r/shims/pyt-1/shim.sock"


@pytest.mark.parametrize(
    ("argv", "exc"),
    [
        (["--bundle", "/b"], InvalidArgumentError),
        (["--id", "x", "--bundle", "/b", "--bogus", "1"], InvalidArgumentError),
        (["--id", "x", "--bundle", "/b", "--log-max-size", "ten"], InvalidArgumentError),
        (["--id", "x", "--bundle", "/b", "--log-driver", "syslog"], InvalidArgumentError),
        (["--id", "x/y", "--bundle", "/b"], InvalidContainerIDError),
        (["--id", "x", "--bundle", "/b", "--run-root", "/" + "r" * 120], InvalidArgumentError),
    ],
)
def test_config_rejects(argv, exc):
    with pytest.raises(exc):
        ShimConfig.from_argv(argv)


def test_exit_command_round_trips_through_argv_and_json():
    from engine.shimapi.config import ShimConfig

    cfg = ShimConfig(
        id="pyt-x", bundle="/b", run_root="/r", root="/d",
        exit_command=("/usr/bin/env", "A=1", "pyengine", "_exited", "pyt-x"),
    )  # fmt: skip
    assert ShimConfig.from_argv(cfg.argv()).exit_command == cfg.exit_command
    assert ShimConfig.from_json(cfg.to_json()).exit_command == cfg.exit_command
