"""The shim's watch over a container's port proxy (engine.shim.proxywatch), on the shim's real
loop with a stand-in proxy that keeps pyproxy's process contract (`0\\n` or `1\\n<message>` on
fd 3): a proxy killed with SIGKILL is started again, a failing start is retried with backoff and
its message kept, and nothing restarts once released."""

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.ports import proxyproc
from engine.ports.proxyproc import ProxyLaunch
from engine.shim.loop import Loop
from engine.shim.proxywatch import ProxyWatch
from engine.shimapi.proxystate import read_proxy_state

SERVES = "#!/bin/sh\nprintf '0\\n' >&3\nexec 3>&-\nexec sleep 60\n"
FAILS = "#!/bin/sh\nprintf '1\\nlisten tcp4 127.0.0.1:1: bind: boom' >&3\nexit 1\n"


def script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def run_until(loop: Loop, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the loop until `done()` holds (checked every 10 ms); fail after `timeout`."""
    deadline = time.monotonic() + timeout

    def check() -> None:
        if done() or time.monotonic() > deadline:
            loop.stop()
        else:
            loop.call_later(0.01, check)

    loop.call_later(0.0, check)
    loop.run()
    assert done(), "condition not reached"


@pytest.fixture
def children() -> Iterator[list[int]]:
    """Pids to kill and reap at the end (the stand-ins are this process's children)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def launch_of(tmp_path: Path, executable: str) -> ProxyLaunch:
    return ProxyLaunch(executable, (), "10.0.0.2", str(tmp_path / "proxy.log"), owner="c1")


def test_a_killed_proxy_is_started_again(tmp_path: Path, children: list[int]) -> None:
    launch = launch_of(tmp_path, script(tmp_path, "serves", SERVES))
    first = proxyproc.launch(launch)
    children.append(first.pid)
    loop = Loop()
    state = str(tmp_path / "proxy.json")
    watch = ProxyWatch(loop, launch, first, state)
    assert read_proxy_state(state) == {
        "status": "running",
        "pid": first.pid,
        "restarts": 0,
        "error": "",
    }

    os.kill(first.pid, signal.SIGKILL)
    run_until(loop, lambda: watch.restarts == 1 and watch.status == "running")
    second = watch.handle
    children.append(second.pid)
    assert second.pid != first.pid and proxyproc.is_running(second)
    assert read_proxy_state(state) == {
        "status": "running",
        "pid": second.pid,
        "restarts": 1,
        "error": "",
    }

    watch.release()
    os.kill(second.pid, signal.SIGKILL)
    loop.call_later(0.5, loop.stop)
    loop.run()
    assert watch.status == "released" and watch.restarts == 1  # nothing started since
    assert json.loads(Path(state).read_text())["status"] == "released"


def test_a_failing_start_is_retried_with_backoff(tmp_path: Path, children: list[int]) -> None:
    good = launch_of(tmp_path, script(tmp_path, "serves", SERVES))
    first = proxyproc.launch(good)
    children.append(first.pid)
    loop = Loop()
    watch = ProxyWatch(loop, good, first, str(tmp_path / "proxy.json"))
    watch.launch = launch_of(tmp_path, script(tmp_path, "fails", FAILS))
    os.kill(first.pid, signal.SIGKILL)
    failures: list[str] = []
    original = watch._failed

    def failed(message: str) -> None:
        failures.append(message)
        original(message)

    watch._failed = failed  # type: ignore[method-assign]
    run_until(loop, lambda: len(failures) >= 3)
    assert watch.status == "restarting" and watch.restarts == 0
    assert "bind: boom" in watch.error and all("bind: boom" in m for m in failures)
    # Waited 0.1, 0.2, 0.4 and 0.8 s: the next wait has doubled each time.
    assert watch.next_delay == pytest.approx(1.6)
    watch.launch = good
    run_until(loop, lambda: watch.status == "running")
    children.append(watch.handle.pid)
    assert watch.restarts == 1 and watch.error == ""
    watch.release()
