"""`run` without -d: copy the container's output to ours while it runs, then exit with its code.

Output is read from the json-file log the shim writes, from its first byte, so nothing written
before we looked is lost; the file stays open, so `--rm` removing it at exit loses nothing either.
"""

import contextlib
import os
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from typing import IO

from engine.containers.logs import parse_lines
from engine.containers.record import ContainerRecord
from engine.errors import EngineError
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


@contextlib.contextmanager
def raw_terminal(resize: Callable[[int, int], None]) -> Iterator[None]:
    """Our terminal in raw mode, its size given to `resize` now and on every SIGWINCH (for
    `run -t` the container's terminal, for `exec -t` the exec's). No terminal: nothing to do."""
    if not os.isatty(0):
        yield
        return

    def on_winch(*_: object) -> None:
        try:
            size = os.get_terminal_size(0)
            resize(size.lines, size.columns)
        except (OSError, EngineError):
            pass

    saved = termios.tcgetattr(0)
    previous = signal.signal(signal.SIGWINCH, on_winch)
    # TCSANOW, as docker's MakeRaw: TCSAFLUSH would drop what was typed ahead of the start.
    tty.setraw(0, termios.TCSANOW)
    on_winch()
    try:
        yield
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)


def terminal(engine: Engine, container_id: str) -> contextlib.AbstractContextManager[None]:
    """-t: our terminal raw and in step with the container's."""
    return raw_terminal(lambda rows, cols: engine.tasks.resize(container_id, rows, cols))


def attach_until_exit(engine: Engine, record: ContainerRecord, stdin: bool = False) -> int:
    """Stream the container's output until it exits; return its exit code."""
    if record.config.tty:
        with terminal(engine, record.id):
            return _attach(engine, record, stdin)
    return _attach(engine, record, stdin)


def _attach(engine: Engine, record: ContainerRecord, stdin: bool) -> int:
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
