"""The engine's errors carry kinds, not exit codes: the CLI maps them onto docker's exit codes
in one place (engine/cli/exitcodes.py), and the API server will map the kinds onto statuses."""

import pytest

from engine.cli.exitcodes import RunFailedError, exit_code
from engine.cli.network import NetworkCommandError
from engine.containers.errors import ConflictError, InvalidOptionError, NoSuchContainerError
from engine.errors import EngineError, InvalidParameterError, NotFoundError, StateConflictError
from engine.images.errors import ImageConflictError, ImageNotFoundError, StoreError
from engine.ports.errors import PortInUseError
from engine.runtime.errors import CommandNotExecutableError, CommandNotFoundError
from engine.shimapi.errors import TaskConflictError, TaskNotFoundError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NoSuchContainerError("x"), 1),  # docker stop x
        (ConflictError("You cannot remove a running container"), 1),
        (ImageNotFoundError("x"), 1),  # every image command exits 1 on a refusal
        (StoreError("disk"), 1),
        (NetworkCommandError("network x not found"), 1),
        (InvalidOptionError("invalid publish"), 125),
        (PortInUseError("port is already allocated"), 125),
        (EngineError("anything else"), 125),
        (CommandNotFoundError("nope"), 127),
        (CommandNotExecutableError("/etc"), 126),
        # run and create: 125 for every failure of the engine, the command's 126/127 aside
        (RunFailedError(ConflictError('Conflict. The container name "/a" is in use')), 125),
        (RunFailedError(ImageNotFoundError("x")), 125),
        (RunFailedError(CommandNotFoundError("nope")), 127),
    ],
)
def test_docker_exit_codes(error: EngineError | RunFailedError, code: int) -> None:
    assert exit_code(error) == code


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (NoSuchContainerError("x"), NotFoundError),
        (ImageNotFoundError("x"), NotFoundError),
        (TaskNotFoundError("no exec"), NotFoundError),
        (ConflictError("running"), StateConflictError),
        (ImageConflictError("in use"), StateConflictError),
        (TaskConflictError("stopped"), StateConflictError),
        (PortInUseError("taken"), StateConflictError),
        (InvalidOptionError("bad flag"), InvalidParameterError),
    ],
)
def test_each_error_has_its_kind(error: EngineError, kind: type[EngineError]) -> None:
    assert isinstance(error, kind)
    others = {NotFoundError, StateConflictError, InvalidParameterError} - {kind}
    assert not any(isinstance(error, other) for other in others)
