"""Where the engine keeps its state by default; read by the light entry point too, so this
module imports nothing."""

DEFAULT_ROOT = "/var/lib/pyengine"
DEFAULT_RUN = "/run/pyengine"
