"""`run` without -d: copy the container's output to ours while it runs, then exit with its code
(the output comes from `lifecycle.attach.OutputTail`, as the API server's attach does)."""

import contextlib
import os
import signal
import sys
import termios
import threading
import tty
from collections.abc import Callable, Iterator

from engine.containers.logs import LogEntry
from engine.containers.record import ContainerRecord
from engine.errors import EngineError
from engine.lifecycle.attach import OutputTail
from engine.lifecycle.service import Engine

POLL = 0.01


def _print(entries: list[LogEntry]) -> None:
    for entry in entries:
        stream = sys.stdout if entry.stream == "stdout" else sys.stderr
        stream.write(entry.text)
        stream.flush()


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
    # The task has just started, so its log holds this run's output only: from its first byte.
    tail = OutputTail(engine.log_path(record.id))
    try:
        while True:
            finished = done.is_set()
            _print(tail.poll())
            if finished:
                break
            done.wait(POLL)
    finally:
        tail.close()
    done.wait()
    return result[0] if result else 255
