"""The OCI runtime module: a typed client for runc/crun's command line, config.json, consoles.

Imports stay light on purpose: the shim (one Python process per container) loads `runtime.py`,
so nothing here pulls in `json`, `re`, `subprocess`, `dataclasses` or `typing` at import time.
Import the pieces from their modules (`engine.runtime.runtime`, `engine.runtime.spec`, ...).
"""
