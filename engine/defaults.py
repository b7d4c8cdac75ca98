"""Where the engine keeps its state: the one place the defaults are spelled, and the one place
`$PYENGINE_ROOT` and `$PYENGINE_RUN` are read. Read by the light entry point too, so this module
imports nothing of ours."""

import os

DEFAULT_ROOT = "/var/lib/pyengine"
DEFAULT_RUN = "/run/pyengine"


def default_root() -> str:
    """`$PYENGINE_ROOT`, else /var/lib/pyengine: records, logs, images, networks."""
    return os.environ.get("PYENGINE_ROOT") or DEFAULT_ROOT


def default_run_root() -> str:
    """`$PYENGINE_RUN`, else /run/pyengine: shims' sockets, the fork server, the zygote."""
    return os.environ.get("PYENGINE_RUN") or DEFAULT_RUN
