"""Logging in docker-proxy's shape: `YYYY/MM/DD HH:MM:SS message` on stderr, never per packet."""

import logging
import sys
import time

logger = logging.getLogger("pyproxy")


def setup() -> None:
    """Send the proxy's log to stderr (dockerd points it at /dev/null; a person may not)."""
    if sys.stderr is None or logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y/%m/%d %H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class RateLimited:
    """At most one line per key per interval: an fd or ICMP storm must not flood stderr."""

    __slots__ = ("_interval", "_last", "_suppressed")

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        logger.warning("%s%s", message, f" ({skipped} more suppressed)" if skipped else "")


def address_text(address: tuple[object, ...]) -> str:
    """A socket address in Go's host:port form, as docker-proxy logs it."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
