"""The shim's process life: validate, claim <run>/shims/<id>/ (a stale one left by a dead shim
is removed), bind the socket, then double-fork: the daemon calls setsid, becomes the child
subreaper and serves; the first process returns the socket path once the daemon reports ready
on a pipe ("0\\n", or "1\\n<message>"), or raises the message. The daemon keeps running when
its starter (the engine) exits; it exits after `shutdown`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from engine.shim.bundle import read_bundle_config
from engine.shim.logfile import JsonFileLog
from engine.shim.loop import Loop
from engine.shim.server import Server
from engine.shim.service import TaskService
from engine.shim.task import Task
from engine.shimapi.config import ShimConfig
from engine.shimapi.discovery import probe, remove_state
from engine.shimapi.errors import ShimError, TaskExistsError
from netns import libc


def claim_state_dir(config: ShimConfig) -> None:
    """mkdir the state dir; a leftover from a dead shim is removed, a live shim is a conflict."""
    layout = config.layout
    os.makedirs(layout.shims_dir, exist_ok=True)
    try:
        os.mkdir(layout.state_dir, 0o711)
        return
    except FileExistsError:
        pass
    if probe(layout):
        raise TaskExistsError(f"container {config.id} already exists (its shim is running)")
    if os.path.exists(layout.state("init.pid")) and not os.path.exists(layout.exit_file):
        raise TaskExistsError(
            f"container {config.id}: a dead shim left it behind; clean it up first (pyshim delete)"
        )
    remove_state(layout)
    os.mkdir(layout.state_dir, 0o711)


def launch(config: ShimConfig, close_in_daemon: tuple[int, ...] = ()) -> str:
    """Claim the state dir, bind, double-fork the daemon; its socket path once it is ready.

    `close_in_daemon`: fds of the caller (the zygote's sockets) the daemon must not keep.
    """
    read_bundle_config(config.bundle)  # fail before anything is created
    layout = config.layout
    claim_state_dir(config)
    try:
        os.makedirs(layout.data_dir, exist_ok=True)
        for stale in (layout.exit_file, layout.oom_file):
            if os.path.exists(stale):
                os.unlink(stale)
        with open(layout.state("shim.json"), "w") as f:
            f.write(json.dumps(config.to_json()))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(layout.socket)
        listener.listen(128)
    except BaseException:
        remove_state(layout)
        raise
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    first = os.fork()
    if first == 0:
        os.close(ready_r)
        for fd in close_in_daemon:
            os.close(fd)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        _daemon(config, listener, ready_w)  # never returns
    os.close(ready_w)
    listener.close()
    try:
        os.waitpid(first, 0)
    except ChildProcessError:
        pass  # the zygote's SIGCHLD handler reaped it first
    status = b""
    while chunk := os.read(ready_r, 4096):
        status += chunk
    os.close(ready_r)
    if status.startswith(b"0\n"):
        return layout.socket
    message = status[2:].decode(errors="replace").strip() or "the shim died while starting"
    raise ShimError(message)


def _daemon(config: ShimConfig, listener: socket.socket, ready_w: int) -> None:
    code = 0
    layout = config.layout
    try:
        os.chdir("/")  # never pin the starter's working directory
        null = os.open(os.devnull, os.O_RDWR)
        log_fd = os.open(layout.state("shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        with open(layout.state("shim.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        set_subreaper()
        server = _serve(config, listener)
        os.write(ready_w, b"0\n")
        os.close(ready_w)
        ready_w = -1
        server.loop.run()
        # files first, connections last: a client that saw EOF finds nothing left on disk
        remove_state(layout)
        server.close()
    except BaseException as exc:  # the daemon must report, never raise into the fork's caller
        if ready_w >= 0:
            os.write(ready_w, f"1\n{exc}".encode())
        else:
            sys.stderr.write(f"pyshim {config.id}: fatal: {exc!r}\n")
        code = 1
    finally:
        try:
            remove_state(layout)
        finally:
            os._exit(code)


def _serve(config: ShimConfig, listener: socket.socket) -> Server:
    loop = Loop()
    log = None
    if config.log_driver == "json-file":
        log = JsonFileLog(config.layout.log_path, config.log_max_size, config.log_max_file)

    def make_task(server: Server) -> Task:
        return TaskService(config, loop, server.publish, server.attach_data, log)

    server = Server(loop, listener, make_task)
    # the engine's terminal or process group must not take the shim down
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    loop.on_signals((signal.SIGCHLD,), server.task.reap)
    server.task.reap()
    return server


def set_subreaper() -> None:
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
