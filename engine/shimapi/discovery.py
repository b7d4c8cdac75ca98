"""Finding shims from their files, telling live from dead, and cleaning up after dead ones.

A shim is live when its socket answers `connect` with its id. A dead shim's container is
handled as containerd's `shim delete` does: `runtime delete --force` (killing an orphaned init:
exit 137), or 255 when nothing alive was left and no exit record had been written; the record
is then written so later readers agree, and the state dir (socket, pid files) is removed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from engine.runtime.errors import ContainerNotFoundError, OCIRuntimeError
from engine.runtime.opts import DeleteOpts
from engine.runtime.runtime import Runtime
from engine.shimapi.errors import TaskConflictError
from engine.shimapi.exitfile import ExitStatus, read_exit, write_exit
from engine.shimapi.paths import Layout

LIVE_STATES = ("created", "creating", "running", "paused", "pausing")


def list_ids(run_root: str) -> list[str]:
    """Ids with a state dir under <run>/shims, live or not."""
    try:
        return sorted(os.listdir(os.path.join(run_root, "shims")))
    except FileNotFoundError:
        return []


def read_pid(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def pid_alive(pid: int) -> bool:
    """Exists and is not a zombie (nobody may reap an orphaned shim)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def probe(layout: Layout, timeout: float = 2.0) -> bool:
    """The shim answers `connect` on its socket with this id."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(layout.socket)
        sock.sendall(b'{"method":"connect"}\n')
        with sock.makefile("rb") as reader:
            reply = json.loads(reader.readline())
        return bool(reply.get("ok")) and reply["result"].get("id") == layout.id
    except (OSError, ValueError, KeyError, AttributeError):
        return False
    finally:
        sock.close()


def remove_state(layout: Layout) -> None:
    """Remove <run>/shims/<id> and everything in it (socket, pid files, runtime log, and the
    FIFO directory of an exec whose engine command died before it could remove it)."""
    _remove_tree(layout.state_dir)


def _remove_tree(path: str) -> None:
    """rm -r without shutil (which imports re: the shim stays lean); absent is fine."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _kill_stuck_shim(layout: Layout) -> None:
    """A shim whose pid lives but whose socket does not answer is hung: SIGKILL it.

    Only when /proc/<pid>/cmdline shows it is this container's shim (pids get reused).
    """
    pid = read_pid(layout.state("shim.pid"))
    if not pid_alive(pid):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return
    if b"start" in argv and layout.id.encode() in argv and layout.run_root.encode() in argv:
        os.kill(pid, signal.SIGKILL)


def cleanup_dead(layout: Layout) -> ExitStatus:
    """After a shim died: kill and delete what it left, write and return the exit record."""
    if probe(layout):
        raise TaskConflictError(f"the shim of {layout.id} is alive; use its task API")
    _kill_stuck_shim(layout)
    record = read_exit(layout.exit_file)
    command, args = "runc", ()
    try:
        with open(layout.state("shim.json"), "rb") as f:
            saved = json.loads(f.read())
        command, args = str(saved["runtime"]), tuple(saved.get("runtime_args") or ())
    except (OSError, ValueError, KeyError):
        pass
    runtime = Runtime(command, root=layout.runtime_root, args=args)
    killed = False
    try:
        killed = runtime.state(layout.id).get("status") in LIVE_STATES
        runtime.delete(layout.id, DeleteOpts(force=True))
    except ContainerNotFoundError:
        pass
    except OCIRuntimeError as exc:
        sys_log(layout, f"cleanup of dead shim: {exc}")
    if record is None:
        record = ExitStatus(
            137 if killed else 255,
            time.time_ns(),
            read_pid(layout.state("init.pid")),
            source="dead-shim",
        )
        if os.path.isdir(layout.data_dir):
            write_exit(layout.exit_file, record)
    remove_state(layout)
    return record


def sys_log(layout: Layout, message: str) -> None:
    sys.stderr.write(f"pyshim {layout.id}: {message}\n")
