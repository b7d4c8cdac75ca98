"""Which signals the CLI passes on: the client of the warm process to its worker, and an
attached command (`run`, `start -a`, `attach`) to its container, as docker's CLI does.

Not the ones about the process itself: its children, broken pipes, job control (a stopped
client and a worker stopped by a default action are what a terminal expects), the faults a
process raises on itself (a Python handler would return into the fault), and the two that
cannot be caught. Light on purpose: the warm process's client imports it before it forwards.
"""

import signal

NOT_FORWARDED = frozenset({
    signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG,
    signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGSEGV, signal.SIGBUS,
    signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS, signal.SIGABRT,
})  # fmt: skip
# SIGWINCH reaches an attached container as a resize of its terminal, not as a signal.
NOT_PROXIED = NOT_FORWARDED | {signal.SIGWINCH}


def forwarded() -> list[int]:
    return sorted(signal.valid_signals() - NOT_FORWARDED)


def proxied() -> list[int]:
    return sorted(signal.valid_signals() - NOT_PROXIED)
