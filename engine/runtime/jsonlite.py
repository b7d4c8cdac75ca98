"""JSON through the C accelerator only: `json` imports `re` (about 9 ms and 1 MB per shim).

Same output as `json.dumps(obj, separators=(",", ":"))` (ASCII-escaped) and the same parsing as
`json.loads` for the documents the shim, runc and the engine exchange.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class JSONError(ValueError):
    """Not one valid JSON document."""


class _Context:
    # the attributes _json.make_scanner reads from json.JSONDecoder
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}  # noqa: RUF012 - the scanner's own cache, shared on purpose

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.lower().replace("infinity", "inf"))


def _default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed JSONDecoder
_encode = _json.make_encoder(
    None, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True
)
_SPACE = " \t\r\n"


def dumps(obj: Any) -> str:
    """Compact JSON text of obj."""
    return "".join(_encode(obj, 0))


def loads(text: str | bytes) -> Any:
    """The JSON value in text; JSONError if there is anything else."""
    if isinstance(text, bytes):
        text = text.decode()
    start = len(text) - len(text.lstrip(_SPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise JSONError(f"invalid JSON at offset {exc.value}") from None
    except (ValueError, SystemError) as exc:
        # the C scanner's error path imports json.decoder; without it CPython reports SystemError
        raise JSONError(f"invalid JSON: {exc}") from None
    if text[end:].strip(_SPACE):
        raise JSONError(f"extra data at offset {end}")
    return value
