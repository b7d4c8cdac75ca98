"""Resource flags with Docker's units and limits: --memory, --cpus, --pids-limit, signals."""

import re
import signal
from decimal import Decimal, InvalidOperation

from engine.containers.errors import InvalidOptionError

_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
# runc refuses smaller limits; Docker checks first to give this message instead.
MIN_MEMORY = 6 * 1024 * 1024


def ram_in_bytes(text: str) -> int:
    """`512m`, `1g`, `1.5GiB`, `1048576` in bytes (binary multiples, as Docker's RAMInBytes)."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise InvalidOptionError(f"invalid size: '{text}'")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise InvalidOptionError(f"invalid size: '{text}'") from None
    return int(number * _BINARY[(match.group(2) or "").lower()])


def memory_limit(text: str) -> int:
    """--memory: a size of at least 6 MiB."""
    value = ram_in_bytes(text)
    if 0 < value < MIN_MEMORY:
        raise InvalidOptionError("Minimum memory limit allowed is 6MB")
    return value


def nano_cpus(text: str, available: int) -> int:
    """--cpus as a count of nano-CPUs, bounded by the host's CPUs like Docker."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidOptionError(
            f'invalid argument "{text}" for "--cpus" flag: '
            f"failed to parse {text} as a rational number"
        ) from None
    nanos = int(value * 1_000_000_000)
    if nanos < 0 or nanos > available * 1_000_000_000 or 0 < nanos < 10_000_000:
        raise InvalidOptionError(
            f"range of CPUs is from 0.01 to {available}.00, as there are only "
            f"{available} CPUs available"
        )
    return nanos


def pids_limit(value: int) -> int:
    """--pids-limit: 0 or -1 mean unlimited."""
    return -1 if value <= 0 else value


def parse_signal(text: str) -> int:
    """A signal as `KILL`, `SIGKILL`, `kill` or `9`."""
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if 0 < number < signal.NSIG:
            return number
    else:
        name = name if name.startswith("SIG") else f"SIG{name}"
        found = getattr(signal.Signals, name, None) if name.isidentifier() else None
        if isinstance(found, signal.Signals):
            return int(found)
    raise InvalidOptionError(f"invalid signal: {text}")
