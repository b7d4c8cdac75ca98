"""The two input patterns of bridge: names (networks, container ids) and MAC addresses."""

import re

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def is_name(value: str) -> bool:
    """`[A-Za-z0-9][A-Za-z0-9_.-]*`, the whole string (a trailing newline is no name)."""
    return NAME.fullmatch(value) is not None


def is_mac(value: str) -> bool:
    """A lower-case MAC address, `02:42:ac:11:00:02`."""
    return MAC.fullmatch(value) is not None
