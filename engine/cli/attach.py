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

from engine.cli import signalsets
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


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(text: str) -> bytes:
    """Docker's `--detach-keys`: `ctrl-<x>` (x a letter, @, [, \\, ], ^ or _) or a single
    character, comma-separated."""
    keys = bytearray()
    for word in text.split(","):
        if len(word) == 1:
            keys.append(ord(word))
        elif word.startswith("ctrl-") and len(word) == 6 and word[5].lower() in CTRL_KEYS:
            keys.append(CTRL_KEYS.index(word[5].lower()))
        else:
            raise EngineError(f"Invalid detach keys ({text}) provided")
    return bytes(keys)


CTRL_KEYS = "@abcdefghijklmnopqrstuvwxyz[\\]^_"


def _forward_stdin(
    engine: Engine, container_id: str, detach_keys: bytes, detached: threading.Event
) -> None:
    """-i: our stdin to the container's, then close its stdin at our EOF. Typing the detach
    keys detaches instead (the container keeps running, its stdin open)."""
    held = b""  # a prefix of the detach keys, held back until we know
    while chunk := os.read(0, 65536):
        data = held + chunk
        held = b""
        if detach_keys:
            at = data.find(detach_keys)
            if at >= 0:
                if at:
                    engine.tasks.write_stdin(container_id, data[:at])
                detached.set()
                return
            for n in range(min(len(detach_keys) - 1, len(data)), 0, -1):
                if detach_keys.startswith(data[-n:]):
                    data, held = data[:-n], data[-n:]
                    break
        if data:
            engine.tasks.write_stdin(container_id, data)
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


@contextlib.contextmanager
def signal_proxy(enabled: bool) -> Iterator[list[int]]:
    """While attached, the signals we receive, queued for the container (docker's sig-proxy):
    the handler only records them; the attach loop sends them, outside any handler."""
    pending: list[int] = []
    if not enabled:
        yield pending
        return
    previous = {}
    for signum in signalsets.proxied():
        previous[signum] = signal.signal(signum, lambda n, _f: pending.append(n))
    try:
        yield pending
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def attach_until_exit(
    engine: Engine,
    record: ContainerRecord,
    stdin: bool = False,
    *,
    sig_proxy: bool = True,
    offset: int = 0,
    detach_keys: str = DEFAULT_DETACH_KEYS,
) -> int | None:
    """Stream the container's output (from `offset` in its log) until it exits, passing our
    signals on; return its exit code, or None when the detach keys were typed."""
    keys = parse_detach_keys(detach_keys) if detach_keys else b""
    with contextlib.ExitStack() as stack:
        if record.config.tty:
            stack.enter_context(terminal(engine, record.id))
        pending = stack.enter_context(signal_proxy(sig_proxy))
        return _attach(engine, record, stdin=stdin, pending=pending, offset=offset, keys=keys)


def _send(engine: Engine, container_id: str, pending: list[int]) -> None:
    while pending:
        signum = pending.pop(0)
        try:
            engine.kill(container_id, signum)
        except EngineError:
            pass  # it has just exited: its code is on the way


def _attach(
    engine: Engine,
    record: ContainerRecord,
    *,
    stdin: bool,
    pending: list[int],
    offset: int,
    keys: bytes,
) -> int | None:
    done = threading.Event()
    detached = threading.Event()
    result: list[int] = []

    def waiter() -> None:
        try:
            result.append(engine.wait(record.id))
        finally:
            done.set()

    threading.Thread(target=waiter, daemon=True).start()
    if stdin:
        threading.Thread(
            target=_forward_stdin, args=(engine, record.id, keys, detached), daemon=True
        ).start()
    tail = OutputTail(engine.log_path(record.id), offset)
    try:
        while True:
            finished = done.is_set()
            _send(engine, record.id, pending)
            _print(tail.poll())
            if finished:
                break
            if detached.is_set():
                return None
            done.wait(POLL)
    finally:
        tail.close()
    done.wait()
    return result[0] if result else 255
