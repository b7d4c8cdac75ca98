"""The task API on a unix socket: newline-delimited JSON, one request at a time per connection.

Request:  {"method": "start", "exec_id": "", ...}\\n
Reply:    {"ok": true, "result": {...}}\\n
      or  {"ok": false, "error": {"kind", "type", "message"}}\\n
`wait` replies once the process has exited (any number of connections may wait). `events`
replies {"ok": true} and then streams one event object per line. `attach` replies {"ok": true}
and then streams binary frames: 1 byte stream (1 stdout, 2 stderr), 4 bytes big-endian length,
the bytes; the shim closes the connection when the container's output ends.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from engine.runtime.errors import OCIRuntimeError
from engine.shim.loop import READ, WRITE, Loop
from engine.shim.process import Process
from engine.shim.task import Task
from engine.shimapi.config import VERSION
from engine.shimapi.errors import InvalidArgumentError, ShimError, TaskConflictError

MAX_LINE = 1 << 20
MAX_PENDING = 4 << 20  # a stream client further behind than this is dropped, never waited for
STREAM_IDS = {"stdout": 1, "stderr": 2}


class Conn:
    """One client connection: input buffer, output queue and its mode."""

    __slots__ = ("busy", "closing", "fd", "inbuf", "mode", "out", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = b""
        self.out: list[bytes] = []
        self.busy = False  # a wait is pending: later requests queue in inbuf
        self.mode = "rpc"  # or "events" / "attach"
        self.closing = False

    def pending(self) -> int:
        return sum(len(b) for b in self.out)


class Server:
    """Accepts clients, dispatches methods to the Task, fans out events and output."""

    def __init__(self, loop: Loop, listener: socket.socket, task_factory: Callable[[Server], Task]):
        self.loop = loop
        self.listener = listener
        self.conns: dict[int, Conn] = {}
        self.task = task_factory(self)
        self.task.on_io_closed = self.output_closed
        self.shutdown_requested = False
        listener.setblocking(False)
        loop.add(listener.fileno(), READ, self._accept)

    # -- fan-out -------------------------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        event = {"topic": topic, "id": self.task.config.id, "timestamp": time.time_ns(), **payload}
        line = (json.dumps(event) + "\n").encode()
        for conn in list(self.conns.values()):
            if conn.mode == "events":
                self._send(conn, line)

    def attach_data(self, stream: str, data: bytes) -> None:
        frame = struct.pack(">BI", STREAM_IDS[stream], len(data)) + data
        for conn in list(self.conns.values()):
            if conn.mode == "attach":
                self._send(conn, frame)

    def output_closed(self) -> None:
        for conn in list(self.conns.values()):
            if conn.mode == "attach":
                conn.closing = True
                self._flush(conn)

    # -- connections ---------------------------------------------------------------------
    def _accept(self, _events: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conn = Conn(sock)
            self.conns[conn.fd] = conn
            self.loop.add(conn.fd, READ, self._ready(conn))

    def _ready(self, conn: Conn) -> Callable[[int], None]:
        def on_events(events: int) -> None:
            if events & WRITE:
                self._flush(conn)
            if events & ~WRITE and conn.fd in self.conns:
                self._read(conn)

        return on_events

    def _read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if conn.mode != "rpc":
            return  # streams are one-way; ignore what the client sends
        conn.inbuf += data
        if len(conn.inbuf) > MAX_LINE and b"\n" not in conn.inbuf:
            self._reply_error(conn, InvalidArgumentError("request line too long"))
            conn.closing = True
            return
        self._process(conn)

    def _process(self, conn: Conn) -> None:
        while not conn.busy and conn.mode == "rpc" and b"\n" in conn.inbuf:
            line, conn.inbuf = conn.inbuf.split(b"\n", 1)
            if line.strip():
                self._handle(conn, line)

    def _handle(self, conn: Conn, line: bytes) -> None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                raise InvalidArgumentError("a request is a JSON object with a method")
            method = request.pop("method")
            if method == "wait":
                self._wait(conn, request)
            elif method == "events":
                conn.mode = "events"
                self._reply(conn, {})
            elif method == "attach":
                conn.mode = "attach"
                self._reply(conn, {})
                if self.task.io.done:
                    self.output_closed()
            elif method == "shutdown":
                self._shutdown(conn, request)
            elif method == "connect":
                self._reply(conn, self._connect())
            elif method in METHODS:
                self._reply(conn, getattr(self.task, method)(request))
            else:
                raise InvalidArgumentError(f"unknown method {method!r}")
        except (ShimError, OCIRuntimeError) as exc:
            self._reply_error(conn, exc)
        except (ValueError, TypeError, KeyError) as exc:
            self._reply_error(conn, InvalidArgumentError(f"bad request: {exc}"))
        except OSError as exc:
            self._reply_error(conn, ShimError(f"{exc.strerror or exc}"))

    def _wait(self, conn: Conn, request: dict[str, Any]) -> None:
        proc = self.task.process(str(request.get("exec_id") or ""))

        def done(p: Process) -> None:
            conn.busy = False
            if self.conns.get(conn.fd) is conn:
                self._reply(conn, self.task.exit_of(p).to_json())
                self._process(conn)

        if proc.state in ("stopped", "deleted"):
            done(proc)
        else:
            conn.busy = True
            proc.waiters.append(done)

    def _connect(self) -> dict[str, Any]:
        init = self.task.init
        return {
            "id": self.task.config.id,
            "shim_pid": os.getpid(),
            "version": VERSION,
            "task_pid": init.pid if init else 0,
            "status": init.state if init else "none",
        }

    def _shutdown(self, conn: Conn, request: dict[str, Any]) -> None:
        if self.task.live():
            if not request.get("now"):
                raise TaskConflictError("cannot shutdown: the task is still running")
            # nobody would be left to reap it: kill it and keep its exit record (137)
            self.task.abandon()
        self.shutdown_requested = True
        self._reply(conn, {})
        # answer first, then stop: the loop ends once this reply is flushed
        self.loop.call_later(0, self._stop_when_flushed)

    def _stop_when_flushed(self) -> None:
        self.loop.stop()

    # -- output --------------------------------------------------------------------------
    def _reply(self, conn: Conn, result: dict[str, Any]) -> None:
        self._send(conn, (json.dumps({"ok": True, "result": result}) + "\n").encode())

    def _reply_error(self, conn: Conn, exc: Exception) -> None:
        kind = exc.kind if isinstance(exc, ShimError) else "runtime"
        error = {
            "kind": kind,
            "type": type(exc).__name__,
            "message": getattr(exc, "message", None) or str(exc),
        }
        if isinstance(exc, OCIRuntimeError):
            error["action"] = exc.action
        self._send(conn, (json.dumps({"ok": False, "error": error}) + "\n").encode())

    def _send(self, conn: Conn, data: bytes) -> None:
        if conn.mode != "rpc" and conn.pending() > MAX_PENDING:
            self._close(conn)
            return
        conn.out.append(data)
        self._flush(conn)

    def _flush(self, conn: Conn) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out[0])
            except BlockingIOError:
                self.loop.modify(conn.fd, READ | WRITE)
                return
            except OSError:
                self._close(conn)
                return
            if sent < len(conn.out[0]):
                conn.out[0] = conn.out[0][sent:]
            else:
                conn.out.pop(0)
        if conn.fd in self.conns:
            self.loop.modify(conn.fd, READ)
        if conn.closing:
            self._close(conn)

    def _close(self, conn: Conn) -> None:
        if self.conns.pop(conn.fd, None) is not None:
            self.loop.remove(conn.fd)
            conn.sock.close()

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._flush(conn)
            self._close(conn)
        self.loop.remove(self.listener.fileno())
        self.listener.close()


METHODS = frozenset(
    {
        "create",
        "start",
        "state",
        "kill",
        "delete",
        "exec",
        "pids",
        "pause",
        "resume",
        "resize",
        "close_io",
        "write_stdin",
        "stats",
        "update",
        "watch_proxy",
        "release_proxy",
        "watch_health",
    }
)
