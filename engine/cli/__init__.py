"""`pyengine`, the engine's command line.

This package's own import stays light: the console script enters at `engine.cli.entry`, which
hands the command to a warm fork server when one runs (see engine/warm/) before
anything heavy is imported. `main` runs a command in this process.
"""


def main(argv: list[str] | None = None) -> int:
    """Run one `pyengine` command in this process; returns its exit code."""
    from engine.cli.app import main as run  # noqa: PLC0415 - click loads on use only

    return run(argv)
