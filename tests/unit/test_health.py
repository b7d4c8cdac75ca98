"""Health check settings (engine/containers/health.py): Go durations, Docker's merge of the
flags over the image's HEALTHCHECK, the image config's field; and the shim's state machine
(engine/shim/health.py) driven by hand."""

import json
from pathlib import Path
from typing import Any

import pytest

from engine.containers.errors import InvalidOptionError
from engine.containers.health import Healthcheck, from_docker, merge, parse_duration
from engine.images.model import parse_config
from engine.shim.health import HealthWatch
from engine.shim.process import Process
from engine.shimapi.health import HealthCheck


def test_durations() -> None:
    assert parse_duration("30s", "f") == 30.0
    assert parse_duration("1m30s", "f") == 90.0
    assert parse_duration("500ms", "f") == 0.5
    assert parse_duration("", "f") == 0.0
    with pytest.raises(InvalidOptionError, match='invalid duration "10"'):
        parse_duration("10", "--health-interval")


def test_merge_and_image_field() -> None:
    image = from_docker({"Test": ["CMD", "true"], "Interval": 10_000_000_000, "Retries": 5})
    assert image == Healthcheck(("CMD", "true"), 10.0, 0.0, 0.0, 5)
    merged = merge(image, cmd="curl -f x", timeout="3s")
    assert merged == Healthcheck(("CMD-SHELL", "curl -f x"), 10.0, 3.0, 0.0, 5)
    assert merged.command() == ("/bin/sh", "-c", "curl -f x")
    assert not merge(image, disabled=True).enabled
    assert merge(Healthcheck()) == Healthcheck()
    with pytest.raises(InvalidOptionError, match="conflicts"):
        merge(image, cmd="x", disabled=True)
    blob = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1}}}  # fmt: skip
    config, _, _ = parse_config(json.dumps(blob).encode())
    assert from_docker(config.healthcheck).test == ("CMD-SHELL", "true")


class _Loop:
    def __init__(self) -> None:
        self.timers: list[Any] = []

    def call_later(self, delay: float, cb: Any) -> None:
        self.timers.append(cb)


def test_watch_states(tmp_path: Path) -> None:
    loop = _Loop()
    codes = iter([1, 1, 0, 1])
    procs: list[Process] = []

    def run_exec(exec_id: str, process: dict[str, Any], output: str) -> Process:
        proc = Process(exec_id)
        Path(output).write_text(f"out of {exec_id}")
        procs.append(proc)
        return proc

    check = HealthCheck({"args": ["true"]}, 1, 1, 0, 2)
    HealthWatch(
        loop,  # type: ignore[arg-type]
        check,
        str(tmp_path),
        run_exec=run_exec,
        finish_exec=lambda _id: None,
        alive=lambda: True,
    )
    statuses = []
    for _ in range(4):
        loop.timers.pop(0)()  # the interval's timer: a check starts
        proc = procs[-1]
        loop.timers.pop(0)  # its timeout's timer (it ends first)
        proc.exit_status = next(codes)
        for waiter in proc.waiters:
            waiter(proc)
        statuses.append(json.loads((tmp_path / "health.json").read_text())["Status"])
    assert statuses == ["starting", "unhealthy", "healthy", "healthy"]
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["FailingStreak"] == 1 and health["Log"][-1]["Output"] == "out of health4"
    assert len(list(tmp_path.glob("*.out"))) == 0  # each check's output file is gone
