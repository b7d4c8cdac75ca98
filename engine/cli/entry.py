"""The `pyengine` and `pybridge` console scripts: hand the command to the run root's warm
process when one serves, else run it in this process (and start one for the commands that
follow).

A command costs a Python start-up plus its imports, about 80 ms for `run`: more than runc
needs to start the container. Forked from a process that has imported everything already, it
costs a fork. So this module imports only the hand-over's client (engine/warm/client.py); the
command's own imports wait for the fallback. See engine/warm/ for the server and why it is not
a daemon.

`pybridge` is the CNI plugin (bridge/cni): a runtime execs it for every ADD, DEL and CHECK, so
it pays the same start-up and is served by the same warm process. Its code stays in bridge/;
only its console script lives here, since bridge/ may not import the engine.

`PYENGINE_FORKSERVER=0` runs every command in its own process, starting no server.
"""

import os
import sys

from engine.defaults import default_run_root
from engine.warm.client import WorkerLostError, hand_over, spawn_server

LOST = 125  # docker's code when the daemon fails the command
CNI_TRY_AGAIN = 11  # the CNI spec's "try again later"


def entry() -> None:
    """The `pyengine` console script."""
    _enter("pyengine")


def pybridge() -> None:
    """The `pybridge` console script (the CNI plugin)."""
    _enter("pybridge")


def _enter(program: str) -> None:
    run_root = default_run_root()
    enabled = os.environ.get("PYENGINE_FORKSERVER", "1") not in ("0", "no", "off", "false")
    # The API server runs for hours in the process its user started (a systemd unit tracks
    # that pid), not as a worker of the warm process, which retires when the code changes.
    enabled = enabled and sys.argv[1:3] != ["system", "service"]
    handed = hand_over(run_root, program) if enabled else None
    if handed is None:
        from engine.warm.programs import run_program  # noqa: PLC0415 - only when no server took it

        code = run_program(program, sys.argv[1:])
        if enabled:
            spawn_server(run_root)
        sys.exit(code)
    if program == "pyengine":
        _forward_signals(handed.worker)  # a CNI runtime signals nothing it waits for
    try:
        code = handed.wait()
    except WorkerLostError as e:
        code = _lost(program, str(e))
    if code < 0:
        _die_of(-code)  # as the worker did, so that a shell sees the same status
    # The worker wrote to our descriptors itself; nothing here is buffered or left to clean
    # up, so skip the interpreter's finalization (a few ms per command).
    os._exit(code)


def _forward_signals(worker: int) -> None:
    """What a terminal or a supervisor sends the command goes to its worker, each in turn."""
    import signal  # noqa: PLC0415 - `pybridge` never pays for it

    from engine.cli import signalsets  # noqa: PLC0415 - as above

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(worker, signum)
        except ProcessLookupError:
            pass  # it is exiting: its status is on the way

    for signum in signalsets.forwarded():  # all a shell or supervisor may send, as docker
        signal.signal(signum, forward)


def _die_of(signum: int) -> None:
    import signal  # noqa: PLC0415 - only on this path

    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)


def _lost(program: str, message: str) -> int:
    sys.stderr.write(f"{program}: {message}\n")
    if program == "pybridge":
        # a CNI runtime reads the error from stdout
        error = f'{{"cniVersion": "1.1.0", "code": {CNI_TRY_AGAIN}, "msg": "{message}"}}\n'
        sys.stdout.write(error)
        sys.stdout.flush()
        return 1
    return LOST
