"""Per-verb options of the runtime command line; each `args()` is a pure function of its fields.

Plain slotted classes rather than dataclasses: `dataclasses` imports `inspect` and `re`, and the
shim, one Python process per container, imports this module (about 2 MB and 15 ms each).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal imports enum: 6 ms per shim

from engine.runtime.errors import InvalidSignalError

SIGNALS: dict[str, int] = {
    name: getattr(_signal, name)
    for name in dir(_signal)
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


class CreateOpts:
    """`create --bundle B --pid-file P [--console-socket S] ...`."""

    __slots__ = (
        "bundle",
        "console_socket",
        "no_new_keyring",
        "no_pivot",
        "pid_file",
        "preserve_fds",
    )

    def __init__(
        self,
        *,
        bundle: str,
        pid_file: str = "",
        console_socket: str = "",
        no_pivot: bool = False,
        no_new_keyring: bool = False,
        preserve_fds: int = 0,
    ) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds

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


class ExecOpts:
    """`exec --process P [--detach] [--pid-file F] [--console-socket S] [--ignore-paused]`."""

    __slots__ = ("console_socket", "detach", "ignore_paused", "pid_file", "process", "tty")

    def __init__(
        self,
        *,
        process: str,
        pid_file: str = "",
        detach: bool = True,
        console_socket: str = "",
        tty: bool = False,
        ignore_paused: bool = False,
    ) -> None:
        self.process = process
        self.pid_file = pid_file
        self.detach = detach
        self.console_socket = console_socket
        self.tty = tty
        self.ignore_paused = ignore_paused

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


class KillOpts:
    """`kill [--all] ID SIGNAL` with the signal checked before the runtime runs."""

    __slots__ = ("all", "signal")

    def __init__(self, *, signal: str | int = "TERM", all: bool = False) -> None:
        self.signal = parse_signal(signal)
        self.all = all

    def args(self) -> list[str]:
        return ["--all"] if self.all else []


class DeleteOpts:
    """`delete [--force] ID`."""

    __slots__ = ("force",)

    def __init__(self, *, force: bool = False) -> None:
        self.force = force

    def args(self) -> list[str]:
        return ["--force"] if self.force else []


class UpdateOpts:
    """`update` flags for the resources runc can change on a live container."""

    __slots__ = ("cpu_quota", "cpu_shares", "cpuset_cpus", "memory", "memory_swap", "pids_limit")

    def __init__(
        self,
        *,
        memory: int | None = None,
        memory_swap: int | None = None,
        cpu_shares: int | None = None,
        cpu_quota: int | None = None,
        cpuset_cpus: str | None = None,
        pids_limit: int | None = None,
    ) -> None:
        self.memory = memory
        self.memory_swap = memory_swap
        self.cpu_shares = cpu_shares
        self.cpu_quota = cpu_quota
        self.cpuset_cpus = cpuset_cpus
        self.pids_limit = pids_limit

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
        known = set(UpdateOpts.__slots__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown resources {sorted(unknown)}")
        return UpdateOpts(**data)  # type: ignore[arg-type]
