"""One process of a task (the init or an exec) and its whitelisted state transitions.

    (new) --create--> created --start--> running <--pause/resume--> paused
    created|running|paused --exit--> stopped --delete--> deleted
    created --delete--> deleted (killed first; exit 137, as conmon records it)

Refusals read as containerd's: "cannot pause task in created state".
"""

from __future__ import annotations

import os
from collections.abc import Callable

from engine.shimapi.errors import TaskConflictError

CREATED, RUNNING, PAUSED, STOPPED, DELETED = "created", "running", "paused", "stopped", "deleted"

# action -> states it is allowed in
ALLOWED: dict[str, frozenset[str]] = {
    "start": frozenset({CREATED}),
    "pause": frozenset({RUNNING}),
    "resume": frozenset({PAUSED}),
    "kill": frozenset({CREATED, RUNNING, PAUSED}),
    "delete": frozenset({CREATED, STOPPED}),
    "exec": frozenset({RUNNING}),
    "update": frozenset({CREATED, RUNNING, PAUSED}),
    "pids": frozenset({CREATED, RUNNING, PAUSED}),
    "stats": frozenset({CREATED, RUNNING, PAUSED}),
    "resize": frozenset({CREATED, RUNNING, PAUSED}),
    "close_io": frozenset({CREATED, RUNNING, PAUSED, STOPPED}),
    "exit": frozenset({CREATED, RUNNING, PAUSED}),
}
# what each successful action leads to
NEXT: dict[str, str] = {
    "start": RUNNING,
    "pause": PAUSED,
    "resume": RUNNING,
    "exit": STOPPED,
    "delete": DELETED,
}


def exit_code(wait_status: int) -> int:
    """The exact code: the process's own, or 128+N for a death by signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    if os.WIFEXITED(wait_status):
        return os.WEXITSTATUS(wait_status)
    return 255


class Process:
    """State, pid and exit of one process; `waiters` are called once with the exit."""

    __slots__ = (
        "exec_id",
        "exit_status",
        "exited_at",
        "pid",
        "spec_path",
        "state",
        "stderr",
        "stdin",
        "stdout",
        "terminal",
        "waiters",
    )

    def __init__(self, exec_id: str = "", *, state: str = CREATED) -> None:
        self.exec_id = exec_id
        self.state = state
        self.pid = 0
        self.exit_status = -1
        self.exited_at = 0
        self.terminal = False
        self.spec_path = ""
        self.stdin = ""
        self.stdout = ""
        self.stderr = ""
        self.waiters: list[Callable[[Process], None]] = []

    def __repr__(self) -> str:
        name = self.exec_id or "init"
        return f"<Process {name} {self.state} pid={self.pid} exit={self.exit_status}>"

    @property
    def is_init(self) -> bool:
        return not self.exec_id

    @property
    def live(self) -> bool:
        return self.state in (CREATED, RUNNING, PAUSED)

    def check(self, action: str) -> None:
        """Raise TaskConflictError unless `action` is allowed in the current state."""
        if self.state not in ALLOWED[action]:
            what = "task" if self.is_init else f"exec {self.exec_id}"
            raise TaskConflictError(
                f"cannot {action.replace('_', ' ')} {what} in {self.state} state"
            )

    def transition(self, action: str) -> None:
        self.check(action)
        self.state = NEXT.get(action, self.state)

    def set_exited(self, status: int, at: int) -> list[Callable[[Process], None]]:
        """Record the exit; returns the waiters to notify (the caller persists first)."""
        self.transition("exit")
        self.exit_status = status
        self.exited_at = at
        waiters, self.waiters = self.waiters, []
        return waiters

    def snapshot(self) -> dict[str, object]:
        return {
            "exec_id": self.exec_id,
            "pid": self.pid,
            "status": self.state,
            "exit_status": self.exit_status if self.state in (STOPPED, DELETED) else None,
            "exited_at": self.exited_at or None,
            "terminal": self.terminal,
        }
