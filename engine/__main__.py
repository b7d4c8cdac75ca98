"""`python -m engine` is `pyengine`."""

from engine.cli.entry import entry

entry()
