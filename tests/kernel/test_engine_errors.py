"""Docker's exit codes and messages from `pyengine`, with real runc (checklist group F):
the command's own code, 126/127 for a command that cannot run, 125 for the engine's refusals
(nothing created), 1 for unknown containers, conflicts for a name in use."""

import pytest

from tests.conftest import free_port
from tests.support.engine_cli import EngineEnv, engine_fixture, listening

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def test_exit_codes_of_the_command(engine: EngineEnv) -> None:
    assert engine("run", "--rm", "busybox", "true").returncode == 0
    assert engine("run", "--rm", "busybox", "false").returncode == 1
    assert engine("run", "--rm", "busybox", "sh", "-c", "exit 7").returncode == 7
    assert engine.ps_rows() == []


def test_command_that_cannot_run(engine: EngineEnv) -> None:
    done = engine("run", "--name", "nf", "busybox", "nosuchcommand")
    assert done.returncode == 127, done.stderr
    assert "nosuchcommand" in done.stderr and "not found" in done.stderr
    # Docker keeps the container `created`, with the code and the runtime's message.
    state = engine.state("nf")
    assert (state["Status"], state["ExitCode"]) == ("created", 127)
    assert "nosuchcommand" in state["Error"]
    assert "Created" in engine.row("nf")

    done = engine("run", "--rm", "busybox", "/etc")
    assert done.returncode == 126, done.stderr
    assert "/etc" in done.stderr
    done = engine("run", "--rm", "busybox", "/etc/passwd")
    assert done.returncode == 126, done.stderr
    # --rm: a container that never started is removed too.
    assert [r.split()[-1] for r in engine.ps_rows()] == ["nf"]
    assert engine.ok("rm", "nf") == "nf\n"

    # With a published port: the failed start releases the port and stops its proxy.
    port = free_port()
    done = engine("run", "-d", "--name", "nfp", "-p", f"127.0.0.1:{port}:80", "busybox", "nosuch")
    assert done.returncode == 127, done.stderr
    assert engine.state("nfp")["Status"] == "created"
    assert not listening("127.0.0.1", port)
    assert not [p for p in engine.processes() if "pyproxy" in " ".join(p.argv)]
    assert engine.ok("rm", "nfp") == "nfp\n"
    assert engine.engine_leaks(engine.container_ids()) == []


REFUSED = (
    (("busybox-nosuch-image:1", "true"), "busybox-nosuch-image"),
    (("--restart", "sometimes", "busybox", "true"), "sometimes"),
    (("--restart", "on-failure:-1", "busybox", "true"), "restart policy"),
    (("-m", "1k", "busybox", "true"), "emory"),
    (("-p", "80:abc", "busybox", "true"), "abc"),
    (("--name", "a/b", "busybox", "true"), "a/b"),
    (("--stop-signal", "NOPE", "busybox", "true"), "NOPE"),
    (("--runtime", "nosuchruntime", "busybox", "true"), "nosuchruntime"),
    (("--network", "pyt-nosuch-net", "busybox", "true"), "pyt-nosuch-net"),
    (("--no-such-flag", "busybox", "true"), "no-such-flag"),
)


def test_refused_before_anything_is_created(engine: EngineEnv) -> None:
    """Bad input: 125 and a message naming it, and no container left (each case reported)."""
    wrong = []
    for args, message in REFUSED:
        for command in ("run", "create"):
            done = engine(command, *args)
            if done.returncode != 125 or message not in done.stderr or done.stdout:
                wrong.append(f"{command} {args}: exit {done.returncode}, {done.stderr.strip()!r}")
            left = engine.ps_rows()
            if left:
                wrong.append(f"{command} {args} left a container: {left}")
                engine.ok("rm", "-f", *(row.split()[0] for row in left))
    assert not wrong, "\n".join(wrong)
    assert not list((engine.root / "containers").glob("*/record.json"))
    # Usage errors of other commands.
    done = engine("kill", "-s", "NOSIG", "whatever")
    assert done.returncode in (1, 125) and "NOSIG" in done.stderr, done.stderr
    done = engine("stop", "-t", "x", "whatever")
    assert done.returncode == 125, done.stderr


def test_duplicate_name_is_a_conflict(engine: EngineEnv) -> None:
    first = engine.ok("create", "--name", "dup", "busybox", "sleep", "100").strip()
    for command in ("create", "run"):
        done = engine(command, "--name", "dup", "busybox", "true")
        # docker create/run exit 125 on any daemon error, this one included.
        assert done.returncode == 125, (command, done.returncode, done.stderr)
        assert 'The container name "/dup" is already in use by container' in done.stderr
        assert first in done.stderr
    # The first container is untouched and is the only one.
    assert [r.split()[0] for r in engine.ps_rows()] == [first[:12]]
    assert engine.state("dup")["Status"] == "created"
    engine.ok("rm", "dup")
    assert engine.ok("create", "--name", "dup", "busybox", "true").strip() != first


def test_unknown_container(engine: EngineEnv) -> None:
    for command in (
        ("start",), ("stop",), ("kill",), ("rm",), ("rm", "-f"), ("restart",), ("pause",),
        ("unpause",), ("wait",), ("logs",), ("port",), ("top",), ("exec", "nosuch", "true"),
    ):  # fmt: skip
        args = command if command[0] == "exec" else (*command, "nosuch")
        done = engine(*args)
        assert done.returncode == 1, (args, done.returncode, done.stderr)
        assert "No such container: nosuch" in done.stderr, (args, done.stderr)
    done = engine("inspect", "nosuch")
    assert done.returncode == 1
    # docker inspect: "No such object" (docker container inspect: "No such container").
    assert "No such object: nosuch" in done.stderr or "No such container: nosuch" in done.stderr
    # Several at once: go on after a failure, print the ones that worked, exit 1.
    engine.ok("create", "--name", "real", "busybox", "true")
    done = engine("rm", "nosuch", "real")
    assert (done.returncode, done.stdout) == (1, "real\n")
    assert "No such container: nosuch" in done.stderr
    assert engine.ps_rows() == []
