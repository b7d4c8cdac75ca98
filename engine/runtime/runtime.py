"""`Runtime`: a stateless, typed client for an OCI runtime's command line (runc by default).

Every verb builds argv from the global flags plus its `*Opts.args()`, runs it through one
`Executor` and turns a non-zero exit into an `OCIRuntimeError` carrying the runtime's own
message: the last `level=error` line the runtime wrote to its `--log` JSON file during this call,
or its stderr. Reaping belongs to the executor: the shim's executor waits for exactly the pid it
spawned, so it never races the shim's reaper for a container's exit status.
"""

from __future__ import annotations

import os
import select

from engine.runtime import jsonlite
from engine.runtime.errors import (
    InvalidContainerIDError,
    OCIRuntimeError,
    RuntimeNotAvailableError,
    classify,
)
from engine.runtime.opts import CreateOpts, DeleteOpts, ExecOpts, KillOpts, UpdateOpts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Protocol

    class Executor(Protocol):
        """Runs argv to completion: (status, stdout, stderr); status is 128+N for signal N."""

        def __call__(
            self, argv: Sequence[str], *, stdio: Sequence[int] | None = None, stdin: bytes = b""
        ) -> tuple[int, bytes, bytes]: ...


# Python ignores SIGPIPE and SIGXFSZ, the shim ignores SIGINT/SIGHUP/SIGTERM: ignored signals
# survive exec, so without this the container's processes would ignore them too.
_DEFAULT_SIGNALS = (1, 2, 13, 15, 25)  # SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGXFSZ
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+")
MAX_ID = 64


def validate_id(cid: str) -> str:
    """runc's rule (^[\\w+-\\.]+$), plus a length cap so socket paths stay short; else raises."""
    if not cid or len(cid) > MAX_ID or not set(cid) <= _ID_CHARS or cid in (".", ".."):
        raise InvalidContainerIDError(
            f"invalid container id {cid!r}: use 1-{MAX_ID} of [A-Za-z0-9_.+-]"
        )
    return cid


def exit_status(wait_status: int) -> int:
    """The shell's rule: the exit code, or 128+N for a death by signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    if os.WIFEXITED(wait_status):
        return os.WEXITSTATUS(wait_status)
    return 255


def spawn_and_wait(
    argv: Sequence[str], *, stdio: Sequence[int] | None = None, stdin: bytes = b""
) -> tuple[int, bytes, bytes]:
    """The default Executor: posix_spawn, collect stdout/stderr, waitpid on that pid only.

    With `stdio` (three fds) the child's 0/1/2 are those fds and nothing is captured: that is
    how a detached container inherits the caller's pipes.
    """
    pipes: list[int] = []
    actions: list[tuple[int, int, int]] = []
    if stdio is None:
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        fds = (r_in, w_out, w_err)
        pipes = [w_in, r_out, r_err]
        to_close = [r_in, w_out, w_err]
    else:
        fds = (stdio[0], stdio[1], stdio[2])
        to_close = []
    for target, fd in enumerate(fds):
        actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    try:
        pid = os.posix_spawn(
            argv[0], list(argv), os.environ, file_actions=actions, setsigdef=_DEFAULT_SIGNALS
        )
    except OSError:
        for fd in pipes + to_close:
            os.close(fd)
        raise
    for fd in to_close:
        os.close(fd)
    out, err = b"", b""
    if pipes:
        w_in, r_out, r_err = pipes
        try:
            if stdin:
                os.write(w_in, stdin)  # small (a resources document); fits the pipe buffer
        finally:
            os.close(w_in)
        out, err = _collect(r_out, r_err)
    _, status = os.waitpid(pid, 0)
    return exit_status(status), out, err


def _collect(r_out: int, r_err: int) -> tuple[bytes, bytes]:
    poller = select.poll()
    chunks: dict[int, list[bytes]] = {r_out: [], r_err: []}
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = 2
    while open_fds:
        for fd, _ in poller.poll():
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds -= 1
    return b"".join(chunks[r_out]), b"".join(chunks[r_err])


def last_error(log_text: str) -> str:
    """The msg of the last `level=error` JSON line (containerd's getLastRuntimeError)."""
    message = ""
    for line in log_text.splitlines():
        if '"error"' not in line:
            continue
        try:
            entry = jsonlite.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "error":
            message = str(entry.get("msg", ""))
    return message


def stderr_message(stderr: bytes) -> str:
    """runc's text form `time="..." level=error msg="..."`, or the raw last line."""
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    marker = 'msg="'
    if marker in line:
        text = line[line.index(marker) + len(marker) :]
        text = text[: text.rindex('"')] if '"' in text else text
        return text.replace('\\"', '"')
    return line.strip()


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
        mark = _size(self.log) if self.log else 0
        try:
            status, out, err = self.executor(self.argv(verb, *rest), stdio=stdio, stdin=stdin)
        except OSError as exc:
            raise RuntimeNotAvailableError(
                f"cannot run {self.command}: {exc.strerror or exc}", action=verb
            ) from None
        if status == 0:
            return out
        message = _tail_error(self.log, mark) or stderr_message(err) or f"exit status {status}"
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
        data = jsonlite.loads(self.run("state", cid))
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
        mark = _size(self.log) if self.log else 0
        try:
            status, _, err = self.executor(argv, stdio=stdio)
        except OSError as exc:
            raise RuntimeNotAvailableError(
                f"cannot run {self.command}: {exc}", action="exec"
            ) from None
        if (opts.detach and status != 0) or status == 255:
            message = _tail_error(self.log, mark) or stderr_message(err)
            raise classify(message or f"exit status {status}", status=status, action="exec")
        return status

    def ps(self, cid: str) -> list[int]:
        pids = jsonlite.loads(self.run("ps", "--format", "json", cid))
        return [int(p) for p in pids or []]

    def update(self, cid: str, opts: UpdateOpts) -> None:
        self.run("update", *opts.args(), cid)

    def stats(self, cid: str) -> dict[str, Any]:
        """One `events --stats` sample: the `data` object (cpu, memory, pids, blkio...)."""
        data = jsonlite.loads(self.run("events", "--stats", cid))
        if not isinstance(data, dict):
            raise OCIRuntimeError(f"unexpected events output {data!r}", action="events")
        return dict(data.get("data") or {})

    def list(self) -> list[dict[str, Any]]:
        return list(jsonlite.loads(self.run("list", "--format", "json")) or [])

    def version(self) -> str:
        return self.run("--version").decode().strip()

    def features(self) -> dict[str, Any]:
        """`features` JSON, probed once; {} for runtimes without it (crun 1.8, runc < 1.1)."""
        if self._caps is None:
            try:
                found = jsonlite.loads(self.run("features"))
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


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _tail_error(path: str, mark: int) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(mark)
            return last_error(f.read().decode(errors="replace"))
    except OSError:
        return ""
