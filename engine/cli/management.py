"""`pyengine container ...`: docker's management group for containers, the same commands as
the top-level ones (`container ls` is `ps`), plus `container prune`."""

import importlib

import click

from engine.cli.context import open_engine

# subcommand -> "module:attribute" of the top-level command it is.
CONTAINER = {
    **{name: f"engine.cli.containers:{name}"
       for name in ("create", "run", "start", "stop", "kill", "restart", "pause", "unpause",
                    "rm", "wait", "attach", "diff")},
    "rename": "engine.cli.containers:rename_",
    "update": "engine.cli.containers:update_",
    "export": "engine.cli.containers:export_",
    **{name: f"engine.cli.queries:{name}" for name in ("inspect", "port", "logs", "top", "stats")},
    **dict.fromkeys(("ls", "list", "ps"), "engine.cli.queries:ps"),
    "exec": "engine.cli.queries:exec_",
    "cp": "engine.cli.cp:cp",
}  # fmt: skip


class _Group(click.Group):
    """Subcommands imported on use, as the top-level group does (engine/cli/app.py)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *CONTAINER})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in CONTAINER:
            return found
        module, attr = CONTAINER[cmd_name].split(":")
        command = getattr(importlib.import_module(module), attr)
        return command if isinstance(command, click.Command) else None


@click.group("container", cls=_Group)
def container() -> None:
    """Manage containers."""


@container.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
def prune(force: bool) -> None:
    """Remove all stopped containers."""
    if not force and not click.confirm(
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        default=False,
    ):
        return
    removed = open_engine().prune()
    if removed:
        click.echo("Deleted Containers:\n" + "\n".join(removed) + "\n")
    click.echo("Total reclaimed space: 0B")
