"""A foreground `run`, `start -a` and `attach` pass the signals they get to the container
(docker's `--sig-proxy`, default true) and exit with its code; the detach keys leave it
running. Through the warm process and without it, with real runc and busybox."""

import signal
import subprocess

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

TRAPPING = "trap 'echo got-{sig}; exit {code}' {sig}; echo ready; while :; do sleep 0.1; done"


def _ready(proc: "subprocess.Popen[bytes]") -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == b"ready\n", line


@pytest.mark.parametrize("forkserver", ["1", "0"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 11), (signal.SIGTERM, 12),
                                           (signal.SIGUSR1, 13)])  # fmt: skip
def test_foreground_run_passes_signals_and_exits_with_the_code(
    engine: EngineEnv, forkserver: str, sig: signal.Signals, code: int
) -> None:
    name = sig.name.removeprefix("SIG")
    proc = engine.popen("run", "--rm", "busybox", "sh", "-c",
                        TRAPPING.format(sig=name, code=code),
                        env=engine.env | {"PYENGINE_FORKSERVER": forkserver})  # fmt: skip
    _ready(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert out == f"got-{name}\n".encode()
    wait_for(lambda: engine.ok("ps", "-aq") == "", 10, "--rm to remove it")


def test_no_sig_proxy_leaves_the_container_alone(engine: EngineEnv) -> None:
    proc = engine.popen("run", "--sig-proxy=false", "--name", "alone", "busybox", "sh", "-c",
                        TRAPPING.format(sig="INT", code=11))  # fmt: skip
    _ready(proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 11
    assert engine.state("alone")["Running"] is True  # the signal was the client's own


def test_start_attach_gives_this_runs_output_and_code(engine: EngineEnv) -> None:
    engine.ok("create", "--name", "once", "busybox", "sh", "-c", "echo hi; exit 3")
    for _ in range(2):  # the second start shows its own output only, not the first one's too
        done = engine("start", "-a", "once")
        assert (done.returncode, done.stdout) == (3, "hi\n")
    many = engine("start", "-a", "once", "once")
    assert many.returncode == 1 and "cannot start and attach multiple" in many.stderr


def test_attach_proxies_signals_and_detach_keys_leave_it_running(engine: EngineEnv) -> None:
    ticking = "trap 'echo got-TERM; exit 7' TERM; while :; do echo tick; sleep 0.1; done"
    engine.ok("run", "-d", "--name", "svc", "busybox", "sh", "-c", ticking)
    proc = engine.popen("attach", "svc")
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"tick\n"  # attached, its signals proxied from now on
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 7 and out.endswith(b"got-TERM\n")
    assert engine.state("svc")["ExitCode"] == 7
    refused = engine("attach", "svc")
    assert refused.returncode == 1 and "You cannot attach to a stopped container" in refused.stderr

    engine.ok("run", "-d", "-i", "--name", "cat", "busybox", "cat")
    done = engine("attach", "cat", input="typed\n\x10\x11after\n")
    assert (done.returncode, done.stdout) == (0, "typed\n")  # detached before "after"
    assert engine.state("cat")["Running"] is True
    done = engine("attach", "--detach-keys", "ctrl-x,y", "cat", input="more\n\x18y")
    assert (done.returncode, done.stdout) == (0, "more\n")
    bad = engine("attach", "--detach-keys", "ctrl-", "cat")
    assert bad.returncode == 1 and "Invalid detach keys (ctrl-) provided" in bad.stderr
