"""`pyengine network create|ls|inspect|rm|prune|gc|reload`: bridge networks, Docker's options.

State lives under --root ($PYENGINE_ROOT, default /var/lib/pyengine); networks are made in the
current network namespace unless --netns names another; our nftables tables are --table.
Exit status: 0 done; 1 the request was refused (bad input, exists, not found, in use, overlap,
address or port taken: nothing was changed); 125 usage errors and failures of the engine.
"""

import json
from collections.abc import Callable

import click

from engine.cli.context import open_engine
from engine.cli.exitcodes import CommandRefusedError
from engine.defaults import DEFAULT_ROOT
from engine.errors import EngineError
from engine.lifecycle import joins
from engine.networks.service import OPTIONS, NetworkCreate, NetworkService


class NetworkCommandError(CommandRefusedError):
    """The command line was refused before any request; nothing was changed."""


def _service(ctx: click.Context) -> NetworkService:
    opts = ctx.find_root().params | (ctx.parent.params if ctx.parent else {})
    return NetworkService(opts["root"], netns=opts["netns"], table=opts["table"])


@click.group()
@click.option(
    "--root",
    envvar="PYENGINE_ROOT",
    default=DEFAULT_ROOT,
    show_default=True,
    help="State directory (networks, leases, endpoints).",
)
@click.option(
    "--netns",
    envvar="PYENGINE_NETNS",
    default=None,
    help="Namespace that plays the host (default: the current one).",
)
@click.option(
    "--table",
    envvar="PYENGINE_NFT_TABLE",
    default="pyengine",
    show_default=True,
    help="Name of our nftables tables (inet and bridge).",
)
def network(root: str, netns: str | None, table: str) -> None:
    """Manage bridge networks."""


@network.command()
@click.argument("name")
@click.option("--subnet", help="IPv4 subnet in CIDR form (default: a free Docker pool).")
@click.option("--gateway", help="IPv4 gateway (default: the first address).")
@click.option("--ip-range", "ip_range", help="Allocate container addresses from this range.")
@click.option("--ipv6", is_flag=True, help="Enable IPv6 (needs --subnet6).")
@click.option("--subnet6", help="IPv6 subnet in CIDR form.")
@click.option("--internal", is_flag=True, help="No outbound access, no masquerade.")
@click.option("--mtu", type=int, default=0, help="MTU of the bridge and veths.")
@click.option("-o", "--opt", "opts", multiple=True, help="Driver option key=value (Docker's).")
@click.option("--label", "labels", multiple=True, help="key=value metadata.")
@click.pass_context
def create(
    ctx: click.Context,
    *,
    name: str,
    subnet: str | None,
    gateway: str | None,
    ip_range: str | None,
    ipv6: bool,
    subnet6: str | None,
    internal: bool,
    mtu: int,
    opts: tuple[str, ...],
    labels: tuple[str, ...],
) -> None:
    """Create a network and print its name."""
    options = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            raise NetworkCommandError(f"invalid option {opt!r}: one of {', '.join(OPTIONS)}")
        options.append((key, value))
    request = NetworkCreate(
        name,
        subnet=subnet or "",
        gateway=gateway or "",
        ip_range=ip_range or "",
        ipv6=ipv6,
        subnet6=subnet6 or "",
        internal=internal,
        mtu=mtu,
        options=tuple(options),
        labels=tuple((key, value) for key, _, value in (lb.partition("=") for lb in labels)),
    )
    click.echo(_service(ctx).create(request))


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, fmt: str) -> None:
    """List networks."""
    nets = _service(ctx).networks()
    if quiet:
        for net in nets:
            click.echo(net.name)
    elif fmt == "json":
        click.echo(json.dumps([net.to_json() for net in nets], indent=1))
    else:
        click.echo(f"{'NAME':<20} {'DRIVER':<8} {'BRIDGE':<16} {'SUBNET':<18} ENDPOINTS")
        for net in nets:
            n = len(net.endpoints)
            click.echo(f"{net.name:<20} {'bridge':<8} {net.bridge:<16} {net.subnet:<18} {n}")


@network.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Show networks as JSON, with their endpoints."""
    views = _service(ctx).inspect(names)
    click.echo(json.dumps([view.to_json() for view in views], indent=1))


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove networks (refused while endpoints are attached)."""
    for name in names:
        click.echo(_service(ctx).remove((name,))[0])


@network.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask (kept for Docker's syntax).")
@click.pass_context
def prune(ctx: click.Context, force: bool) -> None:
    """Remove every network without endpoints."""
    gone = _service(ctx).prune()
    if gone:
        click.echo("Deleted Networks:\n" + "\n".join(gone))


@network.command()
@click.pass_context
def gc(ctx: click.Context) -> None:
    """Reconcile veths, leases and nft elements with what really exists (after crashes)."""
    report = _service(ctx).gc()
    click.echo(
        json.dumps({"endpoints": report.endpoints, "veths": report.veths, "leases": report.leases})
    )


@network.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Re-create our nftables tables from state (after `nft flush ruleset`, say)."""
    _service(ctx).reload()


@network.command()
@click.option(
    "--alias", "aliases", multiple=True, help="Add network-scoped alias for the container"
)
@click.option("--ip", default="", help="IPv4 address")
@click.argument("name")
@click.argument("container")
def connect(aliases: tuple[str, ...], ip: str, name: str, container: str) -> None:
    """Connect a container to a network (running: at once; stopped: at its next start)."""
    _joined(lambda: joins.connect(open_engine(), container, name, aliases, ip))


@network.command()
@click.option("-f", "--force", is_flag=True, help="Force the container to disconnect")
@click.argument("name")
@click.argument("container")
def disconnect(force: bool, name: str, container: str) -> None:
    """Disconnect a container from a network beyond its first."""
    _joined(lambda: joins.disconnect(open_engine(), container, name))


def _joined(change: Callable[[], object]) -> None:
    """Docker's `Error response from daemon: ...` and exit 1 for every refusal."""
    try:
        change()
    except EngineError as exc:
        raise CommandRefusedError(str(exc)) from exc
