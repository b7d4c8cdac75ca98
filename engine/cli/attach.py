"""`run` without -d: copy the container's output to ours while it runs, then exit with its code.

Output is read from the json-file log the shim writes, from its first byte, so nothing written
before we looked is lost; the file stays open, so `--rm` removing it at exit loses nothing either.
"""

import os
import sys
import threading
import time
from typing import IO

from engine.containers.logs import parse_lines
from engine.containers.record import ContainerRecord
from engine.lifecycle.service import Engine

POLL = 0.01


def _open_when_present(path: str, done: threading.Event) -> IO[str] | None:
    while True:
        try:
            return open(path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            if done.is_set():
                return None
            time.sleep(POLL)


def _copy(f: IO[str], partial: str) -> str:
    """Print whole lines now; keep a line still being written for later."""
    data = partial + f.read()
    *lines, rest = data.split("\n")
    for entry in parse_lines(lines):
        stream = sys.stdout if entry.stream == "stdout" else sys.stderr
        stream.write(entry.text)
        stream.flush()
    return rest


def _forward_stdin(engine: Engine, container_id: str) -> None:
    """-i: our stdin to the container's, then close its stdin at our EOF."""
    while chunk := os.read(0, 65536):
        engine.tasks.write_stdin(container_id, chunk)
    engine.tasks.close_stdin(container_id)


def attach_until_exit(engine: Engine, record: ContainerRecord, stdin: bool = False) -> int:
    """Stream the container's output until it exits; return its exit code."""
    done = threading.Event()
    result: list[int] = []

    def waiter() -> None:
        try:
            result.append(engine.wait(record.id))
        finally:
            done.set()

    threading.Thread(target=waiter, daemon=True).start()
    if stdin:
        threading.Thread(target=_forward_stdin, args=(engine, record.id), daemon=True).start()
    f = _open_when_present(str(engine.log_path(record.id)), done)
    partial = ""
    try:
        while f is not None:
            finished = done.is_set()
            partial = _copy(f, partial)
            if finished:
                break
            done.wait(POLL)
    finally:
        if f is not None:
            f.close()
    done.wait()
    return result[0] if result else 255
