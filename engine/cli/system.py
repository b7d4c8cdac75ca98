"""`pyengine system boot`: what a daemon's start does, for a daemonless engine after a reboot.

Run it from the init system once the host is up (a systemd unit with `ExecStart=pyengine system
boot`, as Podman's podman-restart.service does): it records the exits that happened while the
host was down and starts the containers whose restart policy asks for it.
"""

import click

from engine.cli.context import open_engine


@click.group("system")
def system() -> None:
    """Engine-wide operations."""


@system.command("boot")
def boot() -> None:
    """Reconcile every container and start those with restart policy always/unless-stopped."""
    for record in open_engine().boot():
        click.echo(record.name)
