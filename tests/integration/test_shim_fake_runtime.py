"""The shim and runtime client without root, over a fake runtime (tests/fakes/fake_runtime.py).

The fake runs the command on the host (no namespaces), so these tests exercise the shim's own
logic: daemonizing, subreaping, exit codes, waiters, events, logs, errors and dead-shim cleanup.
"""

import json
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from engine.runtime.errors import (
    CommandNotFoundError,
    ContainerNotFoundError,
    OCIRuntimeError,
    RuntimeNotAvailableError,
)
from engine.runtime.runtime import Runtime
from engine.runtime.spec import SpecOptions, write_bundle
from engine.shimapi.discovery import pid_alive
from engine.shimapi.errors import TaskConflictError
from engine.tasks.restore import restore
from engine.tasks.spawn import create_task, remove_task
from tests.fakes import FAKE_RUNTIME
from tests.support.bundle import zombies_under
from tests.support.shim import Sandbox, sandbox, wait_for


@pytest.fixture
def fake(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("rt") / "fake-runtime"
    path.write_text(f'#!/bin/sh\nexec {sys.executable} -S {FAKE_RUNTIME} "$@"\n')
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def box(fake):
    with sandbox(fake) as b:
        yield b


def host_bundle(box: Sandbox, cid: str, args: tuple[str, ...]) -> Path:
    path = box.base / "bundles" / cid
    (path / "rootfs").mkdir(parents=True)
    write_bundle(path, SpecOptions(rootfs=str(path / "rootfs"), args=args))
    return path


def start(box: Sandbox, cid: str, args: tuple[str, ...], **kw):
    client = box.track(create_task(box.config(cid, host_bundle(box, cid, args)), **kw))
    client.start()
    return client


def test_exit_codes_and_logs(box):
    client = start(box, "pyt-f7", ("sh", "-c", "echo out; echo err >&2; exit 7"))
    assert client.wait(timeout=20).exit_status == 7
    remove_task(client)
    lines = Path(box.layout("pyt-f7").log_path).read_text().splitlines()
    assert [(e["stream"], e["log"]) for e in map(json.loads, lines)] == [
        ("stdout", "out\n"),
        ("stderr", "err\n"),
    ]


def test_sigterm_is_143_and_waiters_agree(box):
    client = start(box, "pyt-f15", ("sleep", "100"))
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.wait(timeout=20).exit_status))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    client.kill("TERM")
    for t in threads:
        t.join(20)
    assert results == [143, 143, 143]
    remove_task(client)


def test_orphans_reaped_by_the_shim(box):
    client = start(box, "pyt-forph", ("sh", "-c", "sh -c 'sleep 0.2 &'; sleep 0.4; exit 2"))
    shim = box.shim_pid("pyt-forph")
    assert client.wait(timeout=20).exit_status == 2
    assert wait_for(lambda: not zombies_under(shim))
    remove_task(client)


def test_wrong_state_and_runtime_errors(box):
    client = start(box, "pyt-fstate", ("sleep", "100"))
    with pytest.raises(TaskConflictError, match="cannot start task in running state"):
        client.start()
    client.pause()
    with pytest.raises(TaskConflictError, match="cannot delete task in paused state"):
        client.delete()
    client.resume()
    client.kill("KILL")
    assert client.wait(timeout=20).exit_status == 137
    remove_task(client)
    with pytest.raises(CommandNotFoundError, match="nope-cmd"):
        create_task(box.config("pyt-fnf", host_bundle(box, "pyt-fnf", ("nope-cmd",))))
    assert not os.path.exists(box.layout("pyt-fnf").state_dir)


def test_injected_runtime_failure_is_reported_and_nothing_left(box, monkeypatch):
    monkeypatch.setenv("FAKE_RUNTIME_FAIL", "create")
    with pytest.raises(OCIRuntimeError, match="injected failure in create"):
        create_task(box.config("pyt-finj", host_bundle(box, "pyt-finj", ("true",))))
    assert not os.path.exists(box.layout("pyt-finj").state_dir)
    assert box.runc_ids() == []


def test_dead_shim_is_cleaned_up_with_137(box):
    client = start(box, "pyt-fdead", ("sleep", "100"))
    init = client.state()["pid"]
    client.close()
    shim = box.shim_pid("pyt-fdead")
    os.kill(shim, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(shim))
    live, dead = restore(str(box.run_root), str(box.root))
    assert live == {} and dead["pyt-fdead"].exit_status == 137
    assert wait_for(lambda: not pid_alive(init))
    assert not os.path.exists(box.layout("pyt-fdead").state_dir)


def test_runtime_client_errors(fake, tmp_path):
    rt = Runtime(fake, root=str(tmp_path / "root"), log=str(tmp_path / "log.json"))
    with pytest.raises(ContainerNotFoundError, match="container does not exist"):
        rt.state("pyt-none")
    with pytest.raises(RuntimeNotAvailableError):
        Runtime(str(tmp_path / "missing")).state("x")
