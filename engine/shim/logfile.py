"""Docker's json-file log: one `{"log","stream","time"}` object per line, rotated by size.

Lines are split as dockerd's copier does: at each newline (kept in `log`), and at 16 KiB for
longer lines, whose pieces are partial entries without a trailing newline; a last line with no
newline at EOF is a partial entry too. Rotation renames `<file>` to `<file>.1`, `.1` to `.2` ...
and drops the oldest, so at most `max_file` files exist; `max_file=1` truncates in place.
"""

from __future__ import annotations

import json
import os
import time

PARTIAL = 16 * 1024


def rfc3339nano(ns: int) -> str:
    """UTC, nanoseconds with trailing zeros trimmed, as Go's time.RFC3339Nano prints it."""
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def entry(stream: str, data: bytes, ns: int) -> bytes:
    """One encoded line; invalid UTF-8 becomes U+FFFD as Go's encoder does."""
    text = data.decode("utf-8", errors="replace")
    record = {"log": text, "stream": stream, "time": rfc3339nano(ns)}
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class JsonFileLog:
    """Appends entries to `path`, rotating once it reaches `max_size` bytes (-1: never)."""

    __slots__ = ("_buffers", "_fd", "_size", "max_file", "max_size", "path")

    def __init__(self, path: str, max_size: int = -1, max_file: int = 1) -> None:
        if max_size == 0 or max_size < -1:
            raise ValueError("max-size must be a positive number of bytes, or -1")
        if max_file < 1:
            raise ValueError("max-file must be at least 1")
        self.path = path
        self.max_size = max_size
        self.max_file = max_file
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size
        self._buffers: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"<JsonFileLog {self.path} size={self._size} max={self.max_size}x{self.max_file}>"

    def write(self, stream: str, data: bytes, ns: int | None = None) -> None:
        """Feed bytes read from a stream; complete lines are written now."""
        now = time.time_ns() if ns is None else ns
        buf = self._buffers.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n", 0, PARTIAL)
            if nl >= 0:
                self._emit(stream, buf[: nl + 1], now)
                buf = buf[nl + 1 :]
            elif len(buf) >= PARTIAL:
                self._emit(stream, buf[:PARTIAL], now)
                buf = buf[PARTIAL:]
            else:
                break
        self._buffers[stream] = buf

    def flush(self, stream: str | None = None) -> None:
        """Write what is left of a stream (or all) as a partial entry: the stream ended."""
        for name in [stream] if stream else list(self._buffers):
            rest = self._buffers.pop(name, b"")
            if rest:
                self._emit(name, rest, time.time_ns())

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1

    def _emit(self, stream: str, chunk: bytes, ns: int) -> None:
        line = entry(stream, chunk, ns)
        os.write(self._fd, line)
        self._size += len(line)
        if self.max_size > 0 and self._size >= self.max_size:
            self._rotate()

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file > 1:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                try:
                    os.rename(src, f"{self.path}.{n}")
                except FileNotFoundError:
                    pass
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o640)
        self._size = 0


def parse_size(text: str) -> int:
    """`10k`, `5m`, `1g`, `1024`, `-1` as docker's log-opt max-size (binary units)."""
    t = text.strip().lower().rstrip("b")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(t[-1:], 1)
    number = t[:-1] if mult != 1 else t
    try:
        value = int(float(number) * mult)
    except ValueError:
        raise ValueError(f"invalid size {text!r}") from None
    if value != -1 and value <= 0:
        raise ValueError(f"invalid size {text!r}: must be positive")
    return value
