"""Small file helpers over string paths (why not pathlib: see state.py)."""

import os

join = os.path.join


def read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def names(folder: str, suffix: str = "", prefix: str = "") -> list[str]:
    """Sorted entries of `folder` (hidden ones included, as pathlib's glob would), [] if it is
    not a directory."""
    try:
        found = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in found if n.endswith(suffix) and n.startswith(prefix))
