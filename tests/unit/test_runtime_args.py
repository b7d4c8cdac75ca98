"""Pure parts of the runtime client: argv building, signals, ids, error text and mapping."""

import json

import pytest

from engine.cli.exitcodes import exit_code
from engine.runtime.errors import (
    CommandNotExecutableError,
    CommandNotFoundError,
    ContainerExistsError,
    ContainerNotFoundError,
    ContainerNotRunningError,
    ContainerNotStoppedError,
    InvalidContainerIDError,
    InvalidSignalError,
    OCIRuntimeError,
    classify,
    container_exit_code,
)
from engine.runtime.opts import (
    CreateOpts,
    DeleteOpts,
    ExecOpts,
    KillOpts,
    UpdateOpts,
    parse_signal,
)
from engine.runtime.runtime import Runtime, exit_status, last_error, stderr_message, validate_id


def test_create_args():
    assert CreateOpts(bundle="/b").args() == ["--bundle", "/b"]
    opts = CreateOpts(
        bundle="/b",
        pid_file="/p",
        console_socket="/s",
        no_pivot=True,
        no_new_keyring=True,
        preserve_fds=2,
    )
    assert opts.args() == [
        "--bundle",
        "/b",
        "--pid-file",
        "/p",
        "--console-socket",
        "/s",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
        "2",
    ]


def test_exec_kill_delete_update_args():
    assert ExecOpts(process="/p.json", pid_file="/x").args() == [
        "--process",
        "/p.json",
        "--detach",
        "--pid-file",
        "/x",
    ]
    assert ExecOpts(process="/p", detach=False, ignore_paused=True, tty=True).args() == [
        "--process",
        "/p",
        "--tty",
        "--ignore-paused",
    ]
    assert KillOpts().signal == 15 and KillOpts().args() == []
    assert KillOpts(signal="KILL", all=True).args() == ["--all"]
    assert DeleteOpts(force=True).args() == ["--force"] and DeleteOpts().args() == []
    assert UpdateOpts(memory=1024, pids_limit=5).args() == ["--memory", "1024", "--pids-limit", "5"]
    assert UpdateOpts.from_dict({"cpu_shares": 512}).args() == ["--cpu-share", "512"]
    with pytest.raises(ValueError, match="unknown resources"):
        UpdateOpts.from_dict({"nope": 1})


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "term", "15", 15, " 15 "])
def test_signal_forms(sig):
    assert parse_signal(sig) == 15


@pytest.mark.parametrize("sig", ["NOPE", "SIGNOPE", "0", "65", -1, ""])
def test_bad_signals(sig):
    with pytest.raises(InvalidSignalError):
        parse_signal(sig)


def test_global_args_and_verbs():
    rt = Runtime("/usr/sbin/runc", root="/r", log="/l.json", args=("--debug",), systemd_cgroup=True)
    assert rt.argv("state", "x") == [
        "/usr/sbin/runc",
        "--debug",
        "--root",
        "/r",
        "--log",
        "/l.json",
        "--log-format",
        "json",
        "--systemd-cgroup",
        "state",
        "x",
    ]
    assert Runtime("/bin/crun").argv("list") == ["/bin/crun", "list"]


def test_verbs_through_a_recording_executor():
    calls = []

    def executor(argv, *, stdio=None, stdin=b""):
        calls.append(list(argv))
        verb = argv[argv.index("--root") + 2]
        if verb == "state":
            return 0, json.dumps({"id": "c", "status": "running", "pid": 5}).encode(), b""
        if verb == "ps":
            return 0, b"[5, 6]", b""
        return 0, b"", b""

    rt = Runtime("/rt", root="/r", executor=executor)
    assert rt.state("c")["status"] == "running"
    assert rt.ps("c") == [5, 6]
    rt.kill("c", KillOpts(signal="HUP"))
    rt.delete("c", DeleteOpts(force=True))
    assert calls[2][-3:] == ["kill", "c", "1"]
    assert calls[3][-3:] == ["delete", "--force", "c"]
    with pytest.raises(InvalidContainerIDError):
        rt.create("../x", CreateOpts(bundle="/b"))
    assert len(calls) == 4  # refused before the runtime ran


def test_error_from_stderr_when_there_is_no_log():
    def executor(argv, *, stdio=None, stdin=b""):
        return 1, b"", b'time="2026" level=error msg="container does not exist"\n'

    with pytest.raises(ContainerNotFoundError, match="container does not exist"):
        Runtime("/rt", executor=executor).state("x")


@pytest.mark.parametrize("cid", ["a", "pyt-1", "A_b.c+d", "x" * 64])
def test_valid_ids(cid):
    assert validate_id(cid) == cid


@pytest.mark.parametrize("cid", ["", "a/b", "a b", "x" * 65, "..", ".", "é"])
def test_invalid_ids(cid):
    with pytest.raises(InvalidContainerIDError):
        validate_id(cid)


def test_last_error_reads_the_last_error_line():
    log = "\n".join(
        [
            json.dumps({"level": "warning", "msg": "w"}),
            json.dumps({"level": "error", "msg": "first"}),
            "not json",
            json.dumps({"level": "error", "msg": "second"}),
            json.dumps({"level": "info", "msg": "later"}),
        ]
    )
    assert last_error(log) == "second"
    assert last_error("") == ""


def test_stderr_message_forms():
    assert stderr_message(b'time="x" level=error msg="boom \\"q\\""\n') == 'boom "q"'
    assert stderr_message(b"plain failure\n\n") == "plain failure"
    assert stderr_message(b"") == ""


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("container does not exist", ContainerNotFoundError),
        ("container with given ID already exists", ContainerExistsError),
        ("container not running", ContainerNotRunningError),
        ("cannot delete container x that is not stopped: running", ContainerNotStoppedError),
        ("invalid container ID format", InvalidContainerIDError),
        ('unknown signal "NOPE"', InvalidSignalError),
        ('exec: "x": executable file not found in $PATH', CommandNotFoundError),
        ('exec: "/etc": permission denied', CommandNotExecutableError),
        ("cannot start an already running container", OCIRuntimeError),
    ],
)
def test_classify(message, cls):
    err = classify(message, action="create")
    assert type(err) is cls and err.message == message
    assert str(err) == f"OCI runtime create failed: {message}"


def test_exit_codes_of_command_errors():
    assert container_exit_code(CommandNotFoundError("x")) == 127
    assert container_exit_code(CommandNotExecutableError("x")) == 126
    assert container_exit_code(OCIRuntimeError("x")) is None
    assert exit_code(CommandNotFoundError("x")) == 127
    assert exit_code(OCIRuntimeError("x")) == 125


@pytest.mark.parametrize(("status", "code"), [(0, 0), (7 << 8, 7), (9, 137), (15, 143), (6, 134)])
def test_exit_status_math(status, code):
    assert exit_status(status) == code
