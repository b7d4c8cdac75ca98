"""`Runtime`: a stateless, typed client for an OCI runtime's command line (runc by default).

Every verb builds argv from the global flags plus its `*Opts.args()`, runs it through one
`Executor` and turns a non-zero exit into an `OCIRuntimeError` carrying the runtime's own
message: the last `level=error` line the runtime wrote to its `--log` JSON file during this call,
or its stderr. Reaping belongs to the executor: the shim's executor waits for exactly the pid it
spawned, so it never races the shim's reaper for a container's exit status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Protocol

from engine.runtime.errors import (
    InvalidContainerIDError,
    OCIRuntimeError,
    RuntimeNotAvailableError,
    classify,
)
from engine.runtime.executor import exit_status, spawn_and_wait
from engine.runtime.messages import last_error, log_size, stderr_message, tail_error
from engine.runtime.opts import CreateOpts, DeleteOpts, ExecOpts, KillOpts, UpdateOpts


class Executor(Protocol):
    """Runs argv to completion: (status, stdout, stderr); status is 128+N for signal N."""

    def __call__(
        self, argv: Sequence[str], *, stdio: Sequence[int] | None = None, stdin: bytes = b""
    ) -> tuple[int, bytes, bytes]: ...


_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+")
MAX_ID = 64


def validate_id(cid: str) -> str:
    """runc's rule (^[\\w+-\\.]+$), plus a length cap so socket paths stay short; else raises."""
    if not cid or len(cid) > MAX_ID or not set(cid) <= _ID_CHARS or cid in (".", ".."):
        raise InvalidContainerIDError(
            f"invalid container id {cid!r}: use 1-{MAX_ID} of [A-Za-z0-9_.+-]"
        )
    return cid


class Runtime:
    """Global flags of one runtime binary; verbs are methods. Stateless apart from caches."""

    __slots__ = ("_caps", "args", "command", "executor", "log", "root", "systemd_cgroup")

    def __init__(
        self,
        command: str = "runc",
        *,
        root: str = "",
        log: str = "",
        args: Sequence[str] = (),
        systemd_cgroup: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self.command = command
        self.root = root
        self.log = log
        self.args = tuple(args)
        self.systemd_cgroup = systemd_cgroup
        self.executor: Executor = executor or spawn_and_wait
        self._caps: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Runtime {self.command} root={self.root or '(default)'} args={list(self.args)}>"

    def with_log(self, log: str) -> Runtime:
        """The same runtime logging to another JSON file (one per container, as containerd)."""
        return Runtime(
            self.command,
            root=self.root,
            log=log,
            args=self.args,
            systemd_cgroup=self.systemd_cgroup,
            executor=self.executor,
        )

    def global_args(self) -> list[str]:
        out = [resolve_command(self.command), *self.args]
        if self.root:
            out += ["--root", self.root]
        if self.log:
            out += ["--log", self.log, "--log-format", "json"]
        if self.systemd_cgroup:
            out.append("--systemd-cgroup")
        return out

    def argv(self, verb: str, *rest: str) -> list[str]:
        return [*self.global_args(), verb, *rest]

    def run(
        self, verb: str, *rest: str, stdio: Sequence[int] | None = None, stdin: bytes = b""
    ) -> bytes:
        """Run one verb; stdout on success, else the runtime's message as OCIRuntimeError."""
        mark = log_size(self.log) if self.log else 0
        try:
            status, out, err = self.executor(self.argv(verb, *rest), stdio=stdio, stdin=stdin)
        except OSError as exc:
            raise RuntimeNotAvailableError(
                f"cannot run {self.command}: {exc.strerror or exc}", action=verb
            ) from None
        if status == 0:
            return out
        message = tail_error(self.log, mark) or stderr_message(err) or f"exit status {status}"
        if status == 127 and not message.strip():
            raise RuntimeNotAvailableError(
                f"{self.command}: exit status 127", status=127, action=verb
            )
        raise classify(message, status=status, action=verb)

    # -- lifecycle ------------------------------------------------------------------------
    def create(self, cid: str, opts: CreateOpts, *, stdio: Sequence[int] | None = None) -> None:
        """The container keeps `stdio` (default /dev/null): never capture pipes, whose EOF
        would only come when the container exits."""
        validate_id(cid)
        if stdio is not None:
            self.run("create", *opts.args(), cid, stdio=stdio)
            return
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.run("create", *opts.args(), cid, stdio=(null, null, null))
        finally:
            os.close(null)

    def run_detached(self, cid: str, opts: CreateOpts, *, stdio: Sequence[int]) -> None:
        """`run --detach`: create and start in one runtime process (saves one runc start-up)."""
        self.run("run", "--detach", *opts.args(), validate_id(cid), stdio=stdio)

    def start(self, cid: str) -> None:
        self.run("start", cid)

    def state(self, cid: str) -> dict[str, Any]:
        data = json.loads(self.run("state", cid))
        if not isinstance(data, dict):
            raise OCIRuntimeError(f"unexpected state output {data!r}", action="state")
        return data

    def kill(self, cid: str, opts: KillOpts | None = None) -> None:
        opts = opts or KillOpts()
        self.run("kill", *opts.args(), cid, str(opts.signal))

    def delete(self, cid: str, opts: DeleteOpts | None = None) -> None:
        opts = opts or DeleteOpts()
        self.run("delete", *opts.args(), cid)

    def pause(self, cid: str) -> None:
        self.run("pause", cid)

    def resume(self, cid: str) -> None:
        self.run("resume", cid)

    def exec(self, cid: str, opts: ExecOpts, *, stdio: Sequence[int] | None = None) -> int:
        """Detached: 0 once the process runs. Attached: the command's status (255: runc failed)."""
        argv = self.argv("exec", *opts.args(), cid)
        mark = log_size(self.log) if self.log else 0
        try:
            status, _, err = self.executor(argv, stdio=stdio)
        except OSError as exc:
            raise RuntimeNotAvailableError(
                f"cannot run {self.command}: {exc}", action="exec"
            ) from None
        if (opts.detach and status != 0) or status == 255:
            message = tail_error(self.log, mark) or stderr_message(err)
            raise classify(message or f"exit status {status}", status=status, action="exec")
        return status

    def ps(self, cid: str) -> list[int]:
        pids = json.loads(self.run("ps", "--format", "json", cid))
        return [int(p) for p in pids or []]

    def update(self, cid: str, opts: UpdateOpts) -> None:
        self.run("update", *opts.args(), cid)

    def stats(self, cid: str) -> dict[str, Any]:
        """One `events --stats` sample: the `data` object (cpu, memory, pids, blkio...)."""
        data = json.loads(self.run("events", "--stats", cid))
        if not isinstance(data, dict):
            raise OCIRuntimeError(f"unexpected events output {data!r}", action="events")
        return dict(data.get("data") or {})

    def list(self) -> list[dict[str, Any]]:
        return list(json.loads(self.run("list", "--format", "json")) or [])

    def version(self) -> str:
        return self.run("--version").decode().strip()

    def features(self) -> dict[str, Any]:
        """`features` JSON, probed once; {} for runtimes without it (crun 1.8, runc < 1.1)."""
        if self._caps is None:
            try:
                found = json.loads(self.run("features"))
            except (OCIRuntimeError, ValueError):
                found = {}
            self._caps = found if isinstance(found, dict) else {}
        return self._caps


_FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve_command(command: str) -> str:
    """An absolute path for a bare name (PATH, then the sbin dirs runc lives in); else as is."""
    if "/" in command:
        return command
    for d in (os.environ.get("PATH", "") + ":" + _FALLBACK_PATH).split(":"):
        candidate = os.path.join(d, command)
        if d and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return command


__all__ = [
    "Runtime",
    "exit_status",
    "last_error",
    "resolve_command",
    "spawn_and_wait",
    "stderr_message",
    "validate_id",
]
