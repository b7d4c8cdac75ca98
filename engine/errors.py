"""The engine's exception tree; every error the engine raises derives from `EngineError`.

    EngineError                a failure of the engine (the generic kind)
    ├── NotFoundError          what the request named does not exist
    ├── StateConflictError     the state forbids it: a name in use, a running container
    ├── InvalidParameterError  refused before anything changed: a malformed value
    ├── runtime errors         engine/runtime/  (the OCI runtime said no)
    ├── shim errors            engine/shimapi/  (task API, reattach, dead shims)
    ├── container errors       engine/containers/
    ├── image errors           engine/images/
    └── port errors            engine/ports/

Each subpackage defines its classes beside its code and marks each with one of the three kinds
(`class NoSuchContainerError(ContainerError, NotFoundError)`). The errors carry no exit codes
and no HTTP statuses: the CLI maps them onto Docker's exit codes in one place
(`engine/cli/exitcodes.py`), and the API server onto statuses by kind (404, 409, 400, else 500),
as moby's error classes do.
"""


class EngineError(Exception):
    """A failure the engine reports; its message is meant for the user, as is."""


class NotFoundError(EngineError):
    """The container, image, network or process the request named does not exist."""


class StateConflictError(EngineError):
    """The request contradicts the current state (a name in use, a container that runs)."""


class InvalidParameterError(EngineError):
    """The request was refused as malformed before anything changed."""
