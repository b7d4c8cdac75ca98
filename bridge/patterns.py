"""The two input patterns of bridge, checked without `re` (which costs ms at import in every
`pybridge` call, see jsonc.py). Each function answers exactly what `re.match` of the pattern it
names answers, including `$` accepting one final newline."""

ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
NAME_CHARS = ALNUM | frozenset("_.-")
HEX = frozenset("0123456789abcdef")


def _body(value: str) -> str:
    return value[:-1] if value.endswith("\n") else value


def is_name(value: str) -> bool:
    """`^[A-Za-z0-9][A-Za-z0-9_.-]*$` (network names, container ids)."""
    body = _body(value)
    return bool(body) and body[0] in ALNUM and all(c in NAME_CHARS for c in body)


def is_mac(value: str) -> bool:
    """`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$` (a lower-case MAC address)."""
    body = _body(value)
    return len(body) == 17 and all(c == ":" if i % 3 == 2 else c in HEX for i, c in enumerate(body))
