"""`json.loads` / `json.dumps` through the `_json` C accelerator alone, for the CNI path.

Why: `import json` imports `re` (its decoder and encoder compile patterns at import), and `re`
imports `enum`: about 10 ms of a `pybridge` VERSION here, and most of what ADD and DEL import
beyond the driver. The parsing and the compact encoding are done by `_json` in both cases
(`json` only wraps it), so the results are identical; the indented form of the state files is
produced by `dumps_indented`, which follows json's pure-Python encoder rule for rule and is
checked against it in tests/unit/test_bridge_state.py.

Whenever the input is not the plain case (malformed JSON, a BOM, non-ASCII bytes, a type JSON
cannot encode), the real `json` is imported and called, so errors and corner cases are exactly
json's own.
"""

from __future__ import annotations

import _json
import math
import sys

TYPE_CHECKING = False  # typing's, without importing typing: see bridge/README.md
if TYPE_CHECKING:
    from typing import Any

WHITESPACE = " \t\n\r"


class _Decoder:
    """The attributes `_json.make_scanner` reads, with json.JSONDecoder's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


def _default(o: object) -> object:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


# typeshed wants a JSONDecoder; `_json` reads only the attributes _Decoder has.
_scan = _json.make_scanner(_Decoder())  # type: ignore[arg-type]
_encoders = {
    sort: _json.make_encoder(
        {}, _default, _json.encode_basestring_ascii, None, ": ", ", ", sort, False, True
    )
    for sort in (False, True)
}


class _UnusualError(Exception):
    """Raised inside to hand an input over to the real json module."""


def loads(s: str | bytes) -> Any:
    """`json.loads(s)`."""
    if isinstance(s, bytes):
        if not s.isascii():  # maybe UTF-16/32 or a BOM: json detects the encoding
            return _json_module().loads(s)
        text = s.decode("ascii")
    else:
        text = s
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        if text.startswith("\ufeff"):
            raise _UnusualError
        obj, end = _scan(text, start)
        if text[end:].strip(WHITESPACE):  # "Extra data"
            raise _UnusualError
    except (_UnusualError, StopIteration, ValueError):
        return _json_module().loads(s)  # raises json's own JSONDecodeError
    return obj


def dumps(obj: Any, *, sort_keys: bool = False) -> str:
    """`json.dumps(obj, sort_keys=sort_keys)` (its default separators, ASCII only)."""
    if isinstance(obj, str):
        return str(_json.encode_basestring_ascii(obj))
    try:
        return str("".join(_encoders[sort_keys](obj, 0)))
    except (TypeError, ValueError, RecursionError):
        return str(_json_module().dumps(obj, sort_keys=sort_keys))  # raises as json does


def dumps_indented(obj: Any) -> str:
    """`json.dumps(obj, indent=1, sort_keys=True)`: the state files' form."""
    out: list[str] = []
    try:
        _indented(obj, 0, out)
    except (_UnusualError, RecursionError):
        return str(_json_module().dumps(obj, indent=1, sort_keys=True))
    return "".join(out)


def _scalar(o: object) -> str | None:
    """The JSON text of a scalar, None if `o` is a container (json's order of checks)."""
    if isinstance(o, str):
        return str(_json.encode_basestring_ascii(o))
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if not math.isfinite(o):
            raise _UnusualError  # NaN/Infinity spellings: json's business
        return float.__repr__(o)
    if isinstance(o, list | tuple | dict):
        return None
    raise _UnusualError  # json would call default(): let it raise its TypeError


def _indented(o: object, level: int, out: list[str]) -> None:
    text = _scalar(o)
    if text is not None:
        out.append(text)
        return
    if isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        if not all(isinstance(k, str) for k in o):
            raise _UnusualError  # json's key coercions and sort errors
        inner = "\n" + " " * (level + 1)
        out.append("{")
        for i, (key, value) in enumerate(sorted(o.items())):
            out.append(("," if i else "") + inner + _json.encode_basestring_ascii(key) + ": ")
            _indented(value, level + 1, out)
        out.append("\n" + " " * level + "}")
        return
    assert isinstance(o, list | tuple)
    if not o:
        out.append("[]")
        return
    inner = "\n" + " " * (level + 1)
    out.append("[")
    for i, value in enumerate(o):
        out.append(("," if i else "") + inner)
        _indented(value, level + 1, out)
    out.append("\n" + " " * level + "]")


def is_decode_error(exc: BaseException) -> bool:
    """`isinstance(exc, json.JSONDecodeError)` without importing json: such an error can only
    exist if json.decoder was imported (by `_json` or by the fallbacks above)."""
    decoder = sys.modules.get("json.decoder")
    return decoder is not None and isinstance(exc, decoder.JSONDecodeError)


def _json_module() -> Any:
    import json  # noqa: PLC0415 - the unusual cases only: see the module docstring

    return json
