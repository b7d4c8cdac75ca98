"""`pyengine system boot`: what a daemon's start does, for a daemonless engine after a reboot.

Run it from the init system once the host is up (a systemd unit with `ExecStart=pyengine system
boot`, as Podman's podman-restart.service does): it records the exits that happened while the
host was down and starts the containers whose restart policy asks for it.
"""

import click

from engine.cli.context import config, open_engine, open_images


@click.group("system")
def system() -> None:
    """Engine-wide operations."""


@system.command("boot")
def boot() -> None:
    """Reconcile every container and start those with restart policy always/unless-stopped."""
    for record in open_engine().boot():
        click.echo(record.name)


@system.command("service")
@click.option(
    "-t", "--time", "idle", type=float, default=5.0, show_default=True,
    help="Seconds without a connection before the service exits (0: never)",
)  # fmt: skip
@click.argument("uri", required=False, default="")
def service(idle: float, uri: str) -> None:
    """Serve the Docker Engine API on a unix socket (default unix://$PYENGINE_RUN/docker.sock)."""
    from engine.api.backend import Backend  # noqa: PLC0415 - the server's imports, for it alone
    from engine.api.server import ServiceOptions, serve, socket_path  # noqa: PLC0415
    from engine.lifecycle.adapters import build_engine  # noqa: PLC0415
    from engine.networks.service import NetworkService  # noqa: PLC0415

    settings = config()
    options = ServiceOptions(socket_path(uri, settings.run), idle)
    backend = Backend(
        lambda: build_engine(settings),
        open_images,
        lambda: NetworkService(str(settings.root), table=settings.nft_table),
    )
    serve(options, settings, backend)
