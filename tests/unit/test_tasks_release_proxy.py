"""A teardown releases the shim's watch over the port proxy, best effort: a shim started by an
earlier engine version knows no `release_proxy` (and restarts nothing), and its refusal must
not stop `rm -f` of a container that outlived an upgrade."""

import json
import os
import socket
import threading
from pathlib import Path

from engine.config import EngineConfig
from engine.lifecycle.tasks_adapter import ShimTasks


def test_an_older_shim_without_the_method_does_not_fail_the_teardown(tmp_path: Path) -> None:
    tasks = ShimTasks(EngineConfig(root=tmp_path / "root", run=tmp_path / "run", proxy_path="-"))
    layout = tasks.layout("c1")
    os.makedirs(layout.state_dir)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(layout.socket)
    server.listen(8)
    asked: list[str] = []

    def serve() -> None:  # answers as a shim of the previous version did
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    method = json.loads(line)["method"]
                    asked.append(method)
                    if method == "connect":
                        reply = {"ok": True, "result": {"id": "c1"}}
                    else:
                        error = {
                            "kind": "invalid_argument",
                            "message": f"unknown method {method!r}",
                        }
                        reply = {"ok": False, "error": error}
                    conn.sendall((json.dumps(reply) + "\n").encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        tasks.release_proxy("c1")  # no exception
    finally:
        tasks._client("c1").close()  # the adapter keeps its connection for the command's life
        server.close()
    assert "release_proxy" in asked  # it was asked, and refused
