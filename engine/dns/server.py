"""The per-network DNS server: UDP and TCP on the gateway's port 53 (sockets handed over by
the engine as fds 3 and 4), on uvloop.

- A for a container's names (name, aliases, short id) on this network; AAAA for them is an
  empty answer (the networks are IPv4); PTR for their addresses. Authoritative, TTL 60.
- Everything else goes to the upstream resolvers unchanged (UDP, or TCP for a TCP question),
  each tried in turn for 2 s; none answering: SERVFAIL. It runs in the host's namespace, so
  a host resolver on loopback (systemd-resolved's 127.0.0.53) works as upstream.
- It leaves once its network has no container (checked every second), under the
  network's lock (the one the engine holds while it writes the records and starts a server),
  so a container starting meanwhile either keeps it or starts the next one.
"""

import argparse
import asyncio
import contextlib
import errno
import fcntl
import os
import socket
import struct
import sys
import time
import typing
from pathlib import Path

import uvloop

from engine.dns import wire
from engine.dns.records import Table

TTL = 60
UPSTREAM_TIMEOUT = 2.0
GRACE = 0.0  # "stopped with the last": leave at the first check that finds none
CHECK_EVERY = 1.0
MAX_UDP = 65535


def reverse_ip(name: str) -> str | None:
    """`4.3.2.1.in-addr.arpa` → `1.2.3.4`."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    return ".".join(reversed(parts)) if len(parts) == 4 else None


class Resolver:
    def __init__(self, table: Table, upstreams: list[tuple[str, int]]) -> None:
        self.table = table
        self.upstreams = upstreams

    def local(self, data: bytes, client: str = "") -> bytes | None:
        """Our answer to a question about this network's names, read and written on the wire
        (engine/dns/wire.py); None: not ours, or not a question the fast path reads."""
        q = wire.read_question(data)
        if q is None or q.qclass != wire.QCLASS_IN:
            return None
        self.table.refresh()
        if q.qtype == wire.QTYPE_PTR:
            ip = reverse_ip(q.name)
            owner = self.table.name_of(ip) if ip else None
            if owner is None:
                return None
            return wire.reply(data, q, [wire.ptr_record(owner, TTL)])
        addresses = self.table.addresses(q.name, client)
        if addresses is None:
            return None
        if q.qtype in (wire.QTYPE_A, wire.QTYPE_ANY):
            return wire.reply(data, q, [wire.a_record(ip, TTL) for ip in addresses])
        return wire.reply(data, q, [])  # AAAA, MX...: the name exists, with no such record

    async def answer(self, data: bytes, over_tcp: bool, client: str = "") -> bytes | None:
        """Ours; else the first upstream's answer, passed on unchanged (whatever the message
        holds: the upstream reads it, not us); else SERVFAIL. Noise and responses: nothing."""
        ours = self.local(data, client)
        if ours is not None:
            return ours
        if len(data) < wire.HEADER.size or data[2] & 0x80:
            return None
        for host, port in self.upstreams:
            with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                ask = _ask_tcp if over_tcp else _ask_udp
                return await asyncio.wait_for(ask(host, port, data), UPSTREAM_TIMEOUT)
        return wire.failure(data, wire.RCODE_SERVFAIL)


class _Once(asyncio.DatagramProtocol):
    def __init__(self, done: "asyncio.Future[bytes]") -> None:
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.done.done():
            self.done.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def _ask_udp(host: str, port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Once(done), remote_addr=(host, port)
    )
    try:
        transport.sendto(data)
        return await done
    finally:
        transport.close()


async def _ask_tcp(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        (size,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(size)
    finally:
        writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport has DatagramTransport's methods without being one.
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            ours = self.resolver.local(data, addr[0])
        except Exception as exc:
            sys.stderr.write(f"question from {addr[0]}: {exc!r}\n")
            return
        if ours is not None:  # answered here: no task, no await
            if self.transport is not None:
                with contextlib.suppress(OSError):
                    self.transport.sendto(ours, addr)
            return
        task = asyncio.ensure_future(self._reply(data, addr))
        self.pending.add(task)  # held until done: the loop keeps weak references only
        task.add_done_callback(self.pending.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.answer(data, over_tcp=False, client=addr[0])
        except Exception as exc:
            sys.stderr.write(f"question from {addr[0]}: {exc!r}\n")
            return
        if reply is not None and self.transport is not None:
            with contextlib.suppress(OSError):
                self.transport.sendto(reply, addr)


async def _tcp_client(
    resolver: Resolver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Length-prefixed questions until the client closes or idles 10 s (RFC 7766)."""
    peer = writer.get_extra_info("peername")
    client = peer[0] if isinstance(peer, tuple) else ""
    with contextlib.suppress(Exception):  # a client's trouble ends its connection only
        while True:
            (size,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
            reply = await resolver.answer(await reader.readexactly(size), True, client)
            if reply is None:
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    writer.close()


def _address_gone(gateway: str) -> bool:
    """Whether the bridge's address is gone from the host (the network was removed)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((gateway, 0))
    except OSError as exc:
        return exc.errno == errno.EADDRNOTAVAIL
    finally:
        probe.close()
    return False


def _may_leave(table: Table, lock_path: Path, gateway: str) -> bool:
    """No container for GRACE seconds, still none under the network's lock. Returns with the
    lock held (kept until exit) when it is time to go."""
    if not table.refresh() or _address_gone(gateway):
        return True  # the network is gone
    if not table.is_empty():
        table.empty_since = None
        return False
    now = time.monotonic()
    if table.empty_since is None:
        table.empty_since = now
    if now - table.empty_since < GRACE:
        return False
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # released by our exit, after the sockets are closed
    table.refresh()
    if table.is_empty():
        return True
    os.close(fd)
    table.empty_since = None
    return False


async def serve(
    resolver: Resolver, lock_path: Path, gateway: str, udp: socket.socket, tcp: socket.socket
) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(resolver), sock=udp)
    server = await asyncio.start_server(
        lambda r, w: _tcp_client(resolver, r, w), sock=tcp, limit=MAX_UDP
    )
    try:
        while not _may_leave(resolver.table, lock_path, gateway):
            await asyncio.sleep(CHECK_EVERY)
    finally:
        transport.close()
        server.close()


def parse_upstream(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or "." not in host:
        return text, 53
    return host, int(port)


def host_resolvers(path: str) -> list[tuple[str, int]]:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [
        (f[1], 53) for f in (ln.split() for ln in lines) if f[:1] == ["nameserver"] and len(f) > 1
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.dns.server")
    parser.add_argument("--records", required=True, help="the network's dns.json")
    parser.add_argument("--lock", required=True, help="the network's lock file")
    parser.add_argument("--gateway", required=True, help="the address it serves on")
    parser.add_argument("--upstream", action="append", default=[], help="IP[:PORT]")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf")
    args = parser.parse_args(argv)
    upstreams = [parse_upstream(u) for u in args.upstream] or host_resolvers(args.resolv_conf)
    udp = socket.socket(fileno=3)
    tcp = socket.socket(fileno=4)
    resolver = Resolver(Table(Path(args.records)), upstreams)
    uvloop.run(serve(resolver, Path(args.lock), args.gateway, udp, tcp))
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
