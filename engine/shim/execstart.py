"""Starting an exec through the runtime: its own stdio, or a pty whose master the shim relays."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from engine.runtime.console import ConsoleSocket
from engine.runtime.opts import ExecOpts
from engine.runtime.runtime import Runtime
from engine.shim.files import (
    open_input,
    open_output,
    open_relay_output,
    read_pid_file,
    unlink_quiet,
)
from engine.shim.loop import Loop
from engine.shim.process import Process
from engine.shim.ttyio import ExecTerminal
from engine.shimapi.paths import Layout


def start_exec(
    runtime: Runtime,
    container_id: str,
    proc: Process,
    *,
    layout: Layout,
    loop: Loop,
    console_socket: Callable[[], ConsoleSocket],
) -> ExecTerminal | None:
    """Start `proc` in the container and set its pid; the relay of its terminal, if it has one.

    The exec's own stdio is what runc hands on; on a terminal that is the pty's slave and runc
    gets /dev/null, while `relay` (stdin, stdout) is what the shim copies to and from the
    master. Both are opened before the start: a gone engine fails it early. On failure nothing
    is left running: an exec that started but whose terminal never reached us is killed, as
    nobody could talk to it.
    """
    pid_file = layout.state(f"exec-{proc.exec_id}.pid")
    fds: list[int] = []
    relay: list[int] = []
    console = None
    try:
        if proc.terminal:
            fds = [os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)]
            relay = [-1, open_relay_output(proc.stdout)]
            if proc.stdin:
                relay[0] = open_input(proc.stdin, blocking=False)
            console = console_socket()
        else:
            fds.append(open_input(proc.stdin))
            for path in (proc.stdout, proc.stderr):
                fds.append(open_output(path))
        opts = ExecOpts(
            process=proc.spec_path,
            pid_file=pid_file,
            detach=True,
            console_socket=console.path if console else "",
            tty=console is not None,
        )
        stdio = fds * 3 if console else fds
        runtime.exec(container_id, opts, stdio=stdio)
        proc.pid = read_pid_file(pid_file)
        if console is None:
            return None
        master = console.receive_master()
        terminal = ExecTerminal(loop, master, stdin=relay[0], stdout=relay[1])
        relay = []  # the terminal owns them now
        return terminal
    except BaseException:
        if proc.pid:
            _kill_quietly(proc.pid)
        raise
    finally:
        for fd in (*fds, *relay):
            if fd >= 0:
                os.close(fd)
        unlink_quiet(pid_file)
        if console is not None:
            console.close()


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
