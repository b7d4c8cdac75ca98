"""The `pyengine` command line: one click group whose subcommands live in their own modules,
imported on use.

Commands load lazily so `pyengine run` pays only for what it runs: the CLI starts once per
container operation, and dockerd-sized command tables would otherwise import everything.
"""

import importlib
import signal

import click

from engine.cli.exitcodes import RunFailedError, exit_code
from engine.errors import EngineError

# command name -> "module:attribute"; each module owns its commands and their help.
COMMANDS: dict[str, str] = {
    "network": "engine.cli.network:network",
    "ctr": "engine.cli.ctr:ctr",
    "images": "engine.cli.images:images",
    "image": "engine.cli.images:image",
    "import": "engine.cli.images:import_",
    "load": "engine.cli.images:load",
    "save": "engine.cli.images:save",
    "history": "engine.cli.images:history",
    "rmi": "engine.cli.images:rmi",
    **{
        name: f"engine.cli.containers:{name}"
        for name in ("create", "run", "start", "stop", "kill", "restart", "pause", "unpause")
    },
    "rm": "engine.cli.containers:rm",
    "attach": "engine.cli.containers:attach",
    "wait": "engine.cli.containers:wait",
    "rename": "engine.cli.containers:rename_",
    "update": "engine.cli.containers:update_",
    "export": "engine.cli.containers:export_",
    "diff": "engine.cli.containers:diff",
    "cp": "engine.cli.cp:cp",
    "_exited": "engine.cli.containers:exited",
    **{name: f"engine.cli.queries:{name}" for name in ("ps", "inspect", "port", "logs", "top")},
    "stats": "engine.cli.queries:stats",
    "events": "engine.cli.queries:events",
    "exec": "engine.cli.queries:exec_",
    "system": "engine.cli.system:system",
    "volume": "engine.cli.volume:volume",
    "container": "engine.cli.management:container",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module_name, attr = COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A thin container engine: images, containers, networks and ports, one shim per container."""


def main(argv: list[str] | None = None) -> int:
    """Run one command in this process: EngineError becomes its exit code."""
    # `pyengine logs x | head` ends quietly, as a C program would.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        # Without standalone mode click returns the code of `ctx.exit(n)` instead of exiting.
        result = cli.main(args=argv, prog_name="pyengine", standalone_mode=False)
    except (EngineError, RunFailedError) as exc:
        click.echo(f"pyengine: {exc}", err=True)
        return exit_code(exc)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        # docker exits 125 on a usage error of its own; click's UsageError is that.
        return 125 if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0
