"""Go `flag` package command-line syntax, as docker-proxy parses it.

One or two dashes, `-f v` or `-f=v`, bare bools, parsing stops at the first non-flag word or
after `--`, the last repeat wins (except for list flags, which accumulate), and integers use
`strconv.ParseInt(s, 0, 64)` rules: `0x`, `0o`, `0b` prefixes, underscores, and a leading zero
meaning octal.
"""

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from proxy.errors import FlagError

Kind = Literal["string", "int", "bool", "list", "duration"]
Value = str | int | float | bool | list[str]

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INT64 = 1 << 63
_INT_CHARS = frozenset("0123456789abcdefABCDEFxXoObB_")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag: its name without dashes, kind, default and one-line usage."""

    name: str
    kind: Kind
    default: Value
    usage: str


class HelpRequested(Exception):  # noqa: N818 - a control-flow signal like Go's flag.ErrHelp, not an error
    """`-h` or `-help` was given: print usage, exit 0."""


def parse_go_int(text: str) -> int:
    """Parse like Go's strconv.ParseInt(text, 0, 64).

    ValueError carries Go's reason: "parse error" or "value out of range".
    """
    sign, digits = 1, text
    if digits[:1] in ("+", "-"):
        sign, digits = (-1 if digits[0] == "-" else 1), digits[1:]
    if (
        not digits
        or not set(digits) <= _INT_CHARS  # Python's int() also takes spaces and non-ASCII digits
        or digits[0] == "_"
        or digits[-1] == "_"
        or "__" in digits
    ):
        raise ValueError("parse error")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB":
        digits = "0o" + digits[1:]  # a leading zero means octal in Go, unlike Python
    try:
        value = sign * int(digits, 0)
    except ValueError:
        raise ValueError("parse error") from None
    if not -_INT64 <= value < _INT64:
        raise ValueError("value out of range")
    return value


def parse_go_duration(text: str) -> float:
    """Parse like Go's time.ParseDuration ("90s", "1m30s", "250ms"); return seconds."""
    rest, sign = text, 1.0
    if rest[:1] in ("+", "-"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError("parse error")
    total = 0.0
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        number, rest = rest[:i], rest[i:]
        j = 0
        while j < len(rest) and not (rest[j].isdigit() or rest[j] == "."):
            j += 1
        unit, rest = rest[:j], rest[j:]
        if number in ("", ".") or unit not in _DURATION_UNITS:
            raise ValueError("parse error")
        total += float(number) * _DURATION_UNITS[unit]
    return sign * total


def _parse_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("parse error")


def parse(flags: Sequence[Flag], argv: Sequence[str]) -> tuple[dict[str, Value], set[str]]:
    """Parse argv (without argv[0]); return every flag's value and the names given explicitly."""
    table = {f.name: f for f in flags}
    values: dict[str, Value] = {
        f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in flags
    }
    given: set[str] = set()
    args = list(argv)
    while args:
        word = args[0]
        if len(word) < 2 or word[0] != "-":
            break  # the first non-flag word ends parsing; the rest is ignored, as in Go
        dashes = 2 if word[1] == "-" else 1
        if dashes == 2 and len(word) == 2:
            break  # "--" ends the flags
        name = word[dashes:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {word}")
        args.pop(0)
        name, has_value, text = name.partition("=")
        flag = table.get(name)
        if flag is None:
            if name in ("h", "help"):
                raise HelpRequested
            raise FlagError(f"flag provided but not defined: -{name}")
        if flag.kind == "bool":
            if has_value:
                try:
                    values[name] = _parse_bool(text)
                except ValueError:
                    raise FlagError(
                        f'invalid boolean value "{text}" for -{name}: parse error'
                    ) from None
            else:
                values[name] = True
        else:
            if not has_value:
                if not args:
                    raise FlagError(f"flag needs an argument: -{name}")
                text = args.pop(0)
            values[name] = _convert(flag, text, values[name])
        given.add(name)
    return values, given


def _convert(flag: Flag, text: str, current: Value) -> Value:
    if flag.kind == "int":
        try:
            return parse_go_int(text)
        except ValueError as e:
            raise FlagError(f'invalid value "{text}" for flag -{flag.name}: {e}') from None
    if flag.kind == "duration":
        try:
            return parse_go_duration(text)
        except ValueError as e:
            raise FlagError(f'invalid value "{text}" for flag -{flag.name}: {e}') from None
    if flag.kind == "list":
        assert isinstance(current, list)
        return [*current, text]
    return text


def usage(prog: str, flags: Sequence[Flag]) -> str:
    """The usage text in the layout of Go's flag.PrintDefaults."""
    lines = [f"Usage of {prog}:"]
    for f in sorted(flags, key=lambda f: f.name):
        kind = {"bool": "", "list": " value"}.get(f.kind, f" {f.kind}")
        lines.append(f"  -{f.name}{kind}")
        default = ""
        if f.kind == "string" and f.default:
            default = f' (default "{f.default}")'
        elif f.kind == "int":
            default = f" (default {f.default})"
        elif f.kind == "duration":
            default = f" (default {f.default:g}s)"
        lines.append(f"    \t{f.usage}{default}")
    return "\n".join(lines) + "\n"


def print_usage(prog: str, flags: Sequence[Flag]) -> None:
    """Write the usage to stderr, as Go does for -h."""
    sys.stderr.write(usage(prog, flags))
