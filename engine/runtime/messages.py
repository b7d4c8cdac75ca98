"""The runtime's own error text: its `--log` JSON file first, its stderr second."""

from __future__ import annotations

import json
import os


def last_error(log_text: str) -> str:
    """The msg of the last `level=error` JSON line (containerd's getLastRuntimeError)."""
    message = ""
    for line in log_text.splitlines():
        if '"error"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "error":
            message = str(entry.get("msg", ""))
    return message


def stderr_message(stderr: bytes) -> str:
    """runc's text form `time="..." level=error msg="..."`, or the raw last line."""
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    marker = 'msg="'
    if marker in line:
        text = line[line.index(marker) + len(marker) :]
        text = text[: text.rindex('"')] if '"' in text else text
        return text.replace('\\"', '"')
    return line.strip()


def log_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def tail_error(path: str, mark: int) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(mark)
            return last_error(f.read().decode(errors="replace"))
    except OSError:
        return ""
