"""The engine's side of name resolution on user networks: write the network's records for its
DNS server (engine/dns) and start that server when the network has containers and none runs.

Both happen under the network's hosts lock, the lock the server takes before it leaves an
empty network: so a container starting as the server leaves either keeps it or starts the
next one. The server's sockets are bound here, in the caller: a bind that fails because a
server already holds the port is how we know one serves (no pid file to go stale); any other
failure means the network gets no DNS server, and its containers keep their hosts files.
"""

import contextlib
import errno
import fcntl
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.containers import netmode
from engine.containers.record import ContainerRecord
from engine.containers.store import ContainerStore
from engine.dns.records import RECORDS, Entry, dump
from engine.lifecycle import hosts, links
from engine.private import write_private
from netns.flock import flocked

PORT = 53
LOG = "dns.log"


def names_of(record_name: str, aliases: Sequence[str], container_id: str) -> tuple[str, ...]:
    """What a container answers to on its network: name, aliases, short id."""
    return (record_name, *aliases, container_id[:12])


def sync(
    store: ContainerStore,
    network: str,
    *,
    leaving: str = "",
    alive: Callable[[int], bool] | None = None,
    upstreams: Sequence[str] = (),
) -> None:
    """Rewrite the network's records from the container records; start its server if needed."""
    if not hosts.on_user_network(network):
        return
    folder = hosts.lock_dir(store, network)
    with flocked(folder / ".lock"):
        records = store.all()
        listed = hosts.members(records, network, leaving=leaving, alive=alive)
        entries = [
            Entry(
                netmode.address_on(r, network),
                names_of(r.name, netmode.aliases_on(r, network), r.id),
                view(r, network, records, store, leaving),
            )
            for r in listed
        ]
        write_private(folder / RECORDS, dump(entries), durable=False)
        # This network's gateway (a member may be here as its second network: its own
        # gateway is its first network's).
        gateway = next((g for r in listed if (g := netmode.gateway_on(r, network))), "")
        if gateway:
            ensure_server(folder, gateway, upstreams)


def view(
    record: ContainerRecord,
    network: str,
    records: list[ContainerRecord],
    store: ContainerStore,
    leaving: str,
) -> tuple[tuple[str, str], ...]:
    """The names only this container resolves through `network`'s server: its --link aliases,
    and its peers on its other user networks (one server answers for all of them, the one on
    its first network, named in its resolv.conf)."""
    seen: list[tuple[str, str]] = []
    for alias, target in links.targets(record, store):
        if ip := netmode.address_on(target, network):
            seen.append((alias, ip))
    for other in netmode.networks_of(record):
        if other == network or not hosts.on_user_network(other):
            continue
        for peer in hosts.members(records, other, leaving=leaving):
            if peer.id != record.id:
                ip = netmode.address_on(peer, other)
                seen += [
                    (n, ip) for n in names_of(peer.name, netmode.aliases_on(peer, other), peer.id)
                ]
    return tuple(seen)


def related(store: ContainerStore, network: str, leaving: str = "") -> list[str]:
    """`network` and the other user networks of its members, whose servers answer for it."""
    found = [network]
    for record in hosts.members(store.all(), network, leaving=leaving):
        found += [n for n in netmode.networks_of(record) if hosts.on_user_network(n)]
    return list(dict.fromkeys(found))


def ensure_server(folder: Path, gateway: str, upstreams: Sequence[str], port: int = PORT) -> bool:
    """Start the network's DNS server on `gateway`:53 unless one holds it; whether we did.
    (Another port: the bench's, beside dnsmasq.)"""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with contextlib.closing(udp), contextlib.closing(tcp):
        try:
            udp.bind((gateway, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((gateway, port))
            tcp.listen(64)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                _note(folder, f"no DNS server on {gateway}:{port}: {exc.strerror}")
            return False
        argv = [sys.executable, "-m", "engine.dns.server", "--records", str(folder / RECORDS),
                "--lock", str(folder / ".lock"), "--gateway", gateway]  # fmt: skip
        for upstream in upstreams:
            argv += ["--upstream", upstream]
        _spawn_detached(argv, udp.fileno(), tcp.fileno(), folder / LOG)
    return True


def _note(folder: Path, message: str) -> None:
    with contextlib.suppress(OSError), open(folder / LOG, "a") as log:
        log.write(message + "\n")


def _spawn_detached(argv: list[str], udp: int, tcp: int, log: Path) -> None:
    """Run the server in a session of its own, not our child (the API server and the warm
    process live long and must not collect zombies), its sockets on fds 3 and 4."""
    first = os.fork()
    if first == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.dup2(out, 2)
                # Copies above 4 first, so placing one cannot overwrite the other.
                high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (udp, tcp)]
                os.dup2(high[0], 3)
                os.dup2(high[1], 4)
                os.closerange(5, os.sysconf("SC_OPEN_MAX"))
                os.chdir("/")
                os.execv(argv[0], argv)
        finally:
            os._exit(0)
    os.waitpid(first, 0)
