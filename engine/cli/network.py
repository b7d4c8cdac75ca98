"""`pyengine network create|ls|inspect|rm|prune|gc|reload`: bridge networks, Docker's options.

State lives under --root ($PYENGINE_ROOT, default /var/lib/pyengine); networks are made in the
current network namespace unless --netns names another; our nftables tables are --table.
Exit status: 0 done; 1 the request was refused (bad input, exists, not found, in use, overlap,
address or port taken: nothing was changed); 125 usage errors and failures of the engine.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

import click

from bridge import Driver, network_config
from bridge.config import NetworkConfig
from bridge.errors import BridgeError
from bridge.networks import pick_subnet
from engine.cli.exitcodes import CommandRefusedError
from engine.defaults import DEFAULT_ROOT
from netns import NetnsError

OPTIONS = {
    "com.docker.network.bridge.name": "bridge",
    "com.docker.network.driver.mtu": "mtu",
    "com.docker.network.bridge.enable_icc": "icc",
    "com.docker.network.bridge.enable_ip_masquerade": "masquerade",
}


class NetworkCommandError(CommandRefusedError):
    """The request was refused; nothing was changed."""


@contextmanager
def _driver(ctx: click.Context) -> Iterator[Driver]:
    opts = ctx.find_root().params | (ctx.parent.params if ctx.parent else {})
    try:
        with Driver(opts["root"], netns=opts["netns"], table=opts["table"]) as driver:
            yield driver
    except (BridgeError, NetnsError) as exc:
        raise NetworkCommandError(str(exc)) from exc


def _bool(text: str, key: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise NetworkCommandError(f"invalid option {key}={text!r}: not a boolean")


def _describe(cfg: NetworkConfig, driver: Driver) -> dict[str, Any]:
    d = cfg.to_json()
    d["endpoints"] = [
        {
            "container": r.container_id,
            "ifname": r.ifname,
            "ips": list(r.ips),
            "mac": r.mac,
            "ports": [p.to_json() for p in r.ports],
            "state": r.state,
        }
        for r in driver.endpoints(cfg.name)
    ]
    return d


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
    kwargs: dict[str, Any] = {"gateway": gateway, "internal": internal, "mtu": mtu}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or key not in OPTIONS:
            raise NetworkCommandError(f"invalid option {opt!r}: one of {', '.join(OPTIONS)}")
        field = OPTIONS[key]
        kwargs[field] = _bool(value, key) if field in ("icc", "masquerade") else value
    if ipv6 != bool(subnet6):
        raise NetworkCommandError("invalid IPv6 settings: --ipv6 and --subnet6 go together")
    kwargs["subnet6"] = subnet6
    kwargs["labels"] = dict(label.partition("=")[::2] for label in labels)
    # Each flag's syntax is checked here, so the message names the flag that was given; how
    # the values fit together (a gateway outside the subnet...) is network_config's to say.
    flags = {"--subnet": subnet, "--ip-range": ip_range, "--subnet6": subnet6}
    for flag, text in flags.items():
        if text:
            _cidr(flag, text)
    if gateway:
        try:
            ip_address(gateway)
        except ValueError as exc:
            raise NetworkCommandError(f"invalid --gateway {gateway!r}: {exc}") from None
    if ip_range:
        rng = _cidr("--ip-range", ip_range)
        kwargs["range_start"], kwargs["range_end"] = rng[1], rng[-2]
    with _driver(ctx) as driver:
        cfg = network_config(name, subnet or pick_subnet(driver.host), **kwargs)
        driver.create_network(cfg)
    click.echo(name)


def _cidr(flag: str, value: str) -> IPv4Network | IPv6Network:
    try:
        return ip_network(value, strict=False)
    except ValueError as exc:
        raise NetworkCommandError(f"invalid {flag} {value!r}: {exc}") from None


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, fmt: str) -> None:
    """List networks."""
    with _driver(ctx) as driver:
        nets = driver.networks()
        if quiet:
            for cfg in nets:
                click.echo(cfg.name)
        elif fmt == "json":
            click.echo(json.dumps([_describe(c, driver) for c in nets], indent=1))
        else:
            click.echo(f"{'NAME':<20} {'DRIVER':<8} {'BRIDGE':<16} {'SUBNET':<18} ENDPOINTS")
            for cfg in nets:
                n = len(driver.endpoints(cfg.name))
                click.echo(f"{cfg.name:<20} {'bridge':<8} {cfg.bridge:<16} {cfg.subnet!s:<18} {n}")


@network.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Show networks as JSON, with their endpoints."""
    with _driver(ctx) as driver:
        click.echo(json.dumps([_describe(driver.network(n), driver) for n in names], indent=1))


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove networks (refused while endpoints are attached)."""
    with _driver(ctx) as driver:
        for name in names:
            driver.delete_network(name)
            click.echo(name)


@network.command()
@click.option("-f", "--force", is_flag=True, help="Do not ask (kept for Docker's syntax).")
@click.pass_context
def prune(ctx: click.Context, force: bool) -> None:
    """Remove every network without endpoints."""
    with _driver(ctx) as driver:
        gone = driver.prune()
    if gone:
        click.echo("Deleted Networks:\n" + "\n".join(gone))


@network.command()
@click.pass_context
def gc(ctx: click.Context) -> None:
    """Reconcile veths, leases and nft elements with what really exists (after crashes)."""
    with _driver(ctx) as driver:
        report = driver.gc()
    click.echo(
        json.dumps({"endpoints": report.endpoints, "veths": report.veths, "leases": report.leases})
    )


@network.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Re-create our nftables tables from state (after `nft flush ruleset`, say)."""
    with _driver(ctx) as driver:
        driver.reload()
