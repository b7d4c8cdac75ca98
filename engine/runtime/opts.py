"""Per-verb options of the runtime command line; each `args()` is a pure function of its fields."""

from __future__ import annotations

import signal
from dataclasses import dataclass, fields

from engine.runtime.errors import InvalidSignalError

SIGNALS: dict[str, int] = {
    name: int(getattr(signal, name))
    for name in dir(signal)
    if name.startswith("SIG")
    and not name.startswith("SIG_")
    and name not in ("SIGRTMIN", "SIGRTMAX")
}


def parse_signal(sig: str | int) -> int:
    """TERM, SIGTERM, term and 15 are all 15; anything else raises InvalidSignalError."""
    if isinstance(sig, int) or sig.strip().isdigit():
        num = int(sig)
        if 0 < num <= 64:
            return num
        raise InvalidSignalError(f"invalid signal number {sig!r}")
    name = sig.strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if name not in SIGNALS:
        raise InvalidSignalError(f'unknown signal "{sig}"')
    return SIGNALS[name]


@dataclass(frozen=True, kw_only=True)
class CreateOpts:
    """`create --bundle B --pid-file P [--console-socket S] ...`."""

    bundle: str
    pid_file: str = ""
    console_socket: str = ""
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0

    def args(self) -> list[str]:
        out = ["--bundle", self.bundle]
        if self.pid_file:
            out += ["--pid-file", self.pid_file]
        if self.console_socket:
            out += ["--console-socket", self.console_socket]
        if self.no_pivot:
            out.append("--no-pivot")
        if self.no_new_keyring:
            out.append("--no-new-keyring")
        if self.preserve_fds:
            out += ["--preserve-fds", str(self.preserve_fds)]
        return out


@dataclass(frozen=True, kw_only=True)
class ExecOpts:
    """`exec --process P [--detach] [--pid-file F] [--console-socket S] [--ignore-paused]`."""

    process: str
    pid_file: str = ""
    detach: bool = True
    console_socket: str = ""
    tty: bool = False
    ignore_paused: bool = False

    def args(self) -> list[str]:
        out = ["--process", self.process]
        if self.detach:
            out.append("--detach")
        if self.pid_file:
            out += ["--pid-file", self.pid_file]
        if self.console_socket:
            out += ["--console-socket", self.console_socket]
        if self.tty:
            out.append("--tty")
        if self.ignore_paused:
            out.append("--ignore-paused")
        return out


@dataclass(frozen=True, kw_only=True)
class KillOpts:
    """`kill [--all] ID SIGNAL` with the signal checked (and made a number) before the runtime
    runs."""

    signal: str | int = "TERM"
    all: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "signal", parse_signal(self.signal))

    def args(self) -> list[str]:
        return ["--all"] if self.all else []


@dataclass(frozen=True, kw_only=True)
class DeleteOpts:
    """`delete [--force] ID`."""

    force: bool = False

    def args(self) -> list[str]:
        return ["--force"] if self.force else []


@dataclass(frozen=True, kw_only=True)
class UpdateOpts:
    """`update` flags for the resources runc can change on a live container."""

    memory: int | None = None
    memory_swap: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None

    def args(self) -> list[str]:
        out: list[str] = []
        for flag, value in (
            ("--memory", self.memory),
            # runc refuses a memory limit above the current memory+swap limit
            ("--memory-swap", self.memory_swap),
            ("--cpu-share", self.cpu_shares),
            ("--cpu-quota", self.cpu_quota),
            ("--cpuset-cpus", self.cpuset_cpus),
            ("--pids-limit", self.pids_limit),
        ):
            if value is not None:
                out += [flag, str(value)]
        return out

    @staticmethod
    def from_dict(data: dict[str, object]) -> UpdateOpts:
        """From the task API's `resources` object (same names as the fields)."""
        unknown = set(data) - {f.name for f in fields(UpdateOpts)}
        if unknown:
            raise ValueError(f"unknown resources {sorted(unknown)}")
        return UpdateOpts(**data)  # type: ignore[arg-type]
