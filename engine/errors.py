"""The engine's exception tree; every error the CLI reports derives from `EngineError`.

    EngineError (exit_code 125: the engine itself failed, as `docker run` reports it)
    ├── runtime errors        engine/runtime/  (the OCI runtime said no)
    ├── shim errors           engine/shimapi/  (task API, reattach, dead shims)
    ├── image errors          engine/images/   (import, load, unknown image)
    └── network errors        engine/cli/network.py maps bridge.errors onto it

Each subpackage defines its subclasses beside its code; only `engine/cli` turns them into exit
codes and messages.
"""


class EngineError(Exception):
    """A failure the CLI reports as one line on stderr and `exit_code`."""

    exit_code = 125
