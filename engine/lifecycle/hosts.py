"""Names on a user-defined network: each container's /etc/hosts lists the others on it.

Docker answers these names from a DNS server embedded in every container's namespace, which a
daemon runs; without a daemon nothing could, so (as Podman does without a DNS plugin) the hosts
file of each running container on a user network has one line per other running container
there: `IP<TAB>name short-id`. The default `bridge` network gets none, as in Docker.

The lines sit between two marker comments, so lines a user added elsewhere survive. That block
is recomputed from the records every time a container on the network starts or leaves, never
patched from memory, so a line left by a command that died is gone after the next change. A
network's updates are serialised by a flock of their own, always taken inside a container's
lock and never the other way round (no deadlock with a container's own lifecycle).

The files are bind-mounted, so they are rewritten in place: a rename would leave the running
container reading the old inode.
"""

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from engine.containers.netmode import address_on, aliases_on, joined_container
from engine.containers.record import ContainerRecord
from engine.containers.store import ContainerStore
from engine.shimapi import discovery
from netns.flock import flocked

# (ip, name, short id) of another container on the network.
Peer = tuple[str, str, str]

LOCALHOST = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
BEGIN = "# pyengine: containers on network "
END = "# pyengine: end\n"
# No names resolve on these, as in Docker (the default bridge has only legacy --link).
NO_NAMES = ("bridge", "host", "none")
LISTED = ("running", "paused")  # a paused container keeps its address, and Docker lists it


def on_user_network(network: str) -> bool:
    """Whether containers on `network` find each other by name."""
    return network not in NO_NAMES and not joined_container(network)


def render(
    ip: str,
    hostname: str,
    network: str,
    name: str = "",
    peers: Sequence[Peer] = (),
    *,
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """A container's whole hosts file: localhost, the `--add-host` entries (`extra`: name,
    address), itself, then the block of its peers.

    Its own name resolves only where the others' do (a user network), as in Docker.
    """
    text = LOCALHOST + "".join(f"{address}\t{host}\n" for host, address in extra)
    if not on_user_network(network):
        return text + f"{ip}\t{hostname}\n" if ip else text
    if ip:
        text += f"{ip}\t{hostname} {name}\n" if name else f"{ip}\t{hostname}\n"
    return with_peers(text, network, peers)


def block(network: str, peers: Sequence[Peer]) -> str:
    """The marked block of peer lines ("" for none)."""
    if not peers:
        return ""
    lines = "".join(f"{ip}\t{name} {short}\n" for ip, name, short in peers)
    return f"{BEGIN}{network}\n{lines}{END}"


def with_peers(text: str, network: str, peers: Sequence[Peer]) -> str:
    """`text` with its peer block replaced by one for `peers`; other lines are kept.

    A begin marker without an end (the user cut the file) takes everything after it.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # Its own network's block: a container on several networks has one block for each.
    start = next((i for i, line in enumerate(lines) if line == f"{BEGIN}{network}\n"), None)
    if start is None:
        return "".join(lines) + block(network, peers)
    end = next((i for i in range(start, len(lines)) if lines[i] == END), len(lines) - 1)
    return "".join(lines[:start]) + block(network, peers) + "".join(lines[end + 1 :])


def pid_alive(pid: int) -> bool:
    """Whether the container's init is still there (not a zombie): a record says `running`
    until someone looks, and a container whose exit nobody has handled yet has no name.
    No pid to check: trust the record."""
    return pid <= 0 or discovery.pid_alive(pid)


def members(
    records: Iterable[ContainerRecord],
    network: str,
    *,
    leaving: str = "",
    alive: Callable[[int], bool] | None = None,
) -> list[ContainerRecord]:
    """The containers that have a line on `network`: running there with an address.

    `alive` checks a pid (default `pid_alive`, looked up when called so tests can swap it).
    """
    alive = alive or pid_alive
    return [
        r
        for r in records
        if r.id != leaving
        and r.state.status in LISTED
        and address_on(r, network)
        and alive(r.state.pid)
    ]


def peer(record: ContainerRecord, network: str) -> Peer:
    """Its line's fields on `network`; its aliases there (compose's service name) resolve
    like its name."""
    names = " ".join((record.name, *aliases_on(record, network)))
    return address_on(record, network), names, record.id[:12]


def peers_for(store: ContainerStore, network: str, container_id: str) -> list[Peer]:
    """The lines a container about to start on `network` begins with (none off user networks).

    Unlocked: its file is not yet anyone else's to write, and `sync` redoes it once it runs.
    """
    if not on_user_network(network):
        return []
    return [peer(r, network) for r in members(store.all(), network, leaving=container_id)]


def sync(
    store: ContainerStore,
    network: str,
    bundle_dir: Callable[[str], Path],
    *,
    leaving: str = "",
    alive: Callable[[int], bool] | None = None,
) -> None:
    """Rewrite the peer block of every listed container on `network` from the records.

    `leaving` is a container on its way out whose record may still say running.
    """
    if not on_user_network(network):
        return
    with flocked(lock_dir(store, network) / ".lock"):
        listed = members(store.all(), network, leaving=leaving, alive=alive)
        for record in listed:
            others = [peer(r, network) for r in listed if r.id != record.id]
            update(bundle_dir(record.id) / "hosts", network, others)


def update(path: Path, network: str, peers: Sequence[Peer]) -> bool:
    """Replace the peer block of one hosts file in place; whether it changed."""
    return rewrite(path, lambda text: with_peers(text, network, peers))


def lock_dir(store: ContainerStore, network: str) -> Path:
    """`containers/.hosts/<network>/.lock`: a dot entry, which record listings skip. Network
    names are `[A-Za-z0-9][A-Za-z0-9_.-]*` (the bridge checks), so always one path component."""
    return store.dir / ".hosts" / network


def rewrite(path: Path, change: Callable[[str], str]) -> bool:
    """Apply `change` to the file in place (same inode); whether it changed.

    Never creates the file: one that is gone belongs to a container being removed. The new
    text is written over the old and the rest cut off, so a reader never sees an empty file
    (for an instant a shorter text may still be followed by the old one's end).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "r+b", closefd=False) as f:
            old = f.read().decode("utf-8", errors="replace")
        new = change(old)
        if new == old:
            return False
        data = new.encode()
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], done)
        os.ftruncate(fd, len(data))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
