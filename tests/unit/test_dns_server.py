"""The network DNS server's answers (engine/dns/server.py), without sockets of the engine's:
local names, PTR, the empty AAAA, forwarding to an upstream on loopback, SERVFAIL when none
answers, FORMERR or silence for garbage; and the records table's reloading."""

import asyncio
import os
import socket
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from engine.dns import wire
from engine.dns.records import Entry, Table, dump
from engine.dns.server import Resolver, host_resolvers, parse_upstream, reverse_ip


def _table(tmp_path: Path, entries: list[Entry]) -> Table:
    path = tmp_path / "dns.json"
    path.write_text(dump(entries))
    table = Table(path)
    assert table.refresh()
    return table


def _ask(resolver: Resolver, name: str, kind: str = "A") -> dns.message.Message:
    data = dns.message.make_query(name, kind).to_wire()
    reply = asyncio.run(resolver.answer(data, over_tcp=False))
    assert reply is not None
    return dns.message.from_wire(reply)


def test_local_names_ptr_and_empty_aaaa(tmp_path: Path) -> None:
    table = _table(tmp_path, [Entry("10.1.0.2", ("web", "www", "abcdef012345"))])
    resolver = Resolver(table, [])
    reply = _ask(resolver, "WWW")
    assert reply.flags & dns.flags.AA and reply.rcode() == dns.rcode.NOERROR
    assert [r.address for rrset in reply.answer for r in rrset] == ["10.1.0.2"]
    assert not _ask(resolver, "web", "AAAA").answer
    ptr = _ask(resolver, "2.0.1.10.in-addr.arpa", "PTR")
    assert [r.target.to_text() for rrset in ptr.answer for r in rrset] == ["web."]
    # Not ours and nobody upstream: SERVFAIL, not silence.
    assert _ask(resolver, "elsewhere.test").rcode() == dns.rcode.SERVFAIL


def test_forwarding_to_an_upstream(tmp_path: Path) -> None:
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.1", 0))
    port = upstream.getsockname()[1]

    async def run() -> dns.message.Message:
        loop = asyncio.get_running_loop()

        def serve_one() -> None:
            data, addr = upstream.recvfrom(4096)
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 5, "IN", "A", "192.0.2.9")
            )
            upstream.sendto(reply.to_wire(), addr)

        served = loop.run_in_executor(None, serve_one)
        resolver = Resolver(_table(tmp_path, []), [("127.0.0.1", port)])
        data = dns.message.make_query("far.test", "A").to_wire()
        reply = await resolver.answer(data, over_tcp=False)
        await served
        assert reply is not None
        return dns.message.from_wire(reply)

    try:
        reply = asyncio.run(run())
    finally:
        upstream.close()
    assert [r.address for rrset in reply.answer for r in rrset] == ["192.0.2.9"]
    assert not reply.flags & dns.flags.AA  # the upstream's answer, passed on unchanged


def test_noise_gets_nothing_and_unreadable_queries_a_servfail(tmp_path: Path) -> None:
    resolver = Resolver(_table(tmp_path, []), [])
    assert asyncio.run(resolver.answer(b"\x01", over_tcp=False)) is None
    # A response sent to us is never answered (no loops between servers).
    response = dns.message.make_response(dns.message.make_query("x1", "A")).to_wire()
    assert asyncio.run(resolver.answer(response, over_tcp=False)) is None
    # A query we cannot read goes upstream as it is; with none answering: SERVFAIL.
    bad = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff"
    reply = asyncio.run(resolver.answer(bad, over_tcp=False))
    assert reply is not None and reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.SERVFAIL and reply[2] & 0x80


def test_wire_replies_read_as_dnspython_reads_them(tmp_path: Path) -> None:
    query = dns.message.make_query("Web.Example", "A", use_edns=0)
    data = query.to_wire()
    q = wire.read_question(data)
    assert q is not None and (q.name, q.qtype) == ("web.example", wire.QTYPE_A)
    out = dns.message.from_wire(wire.reply(data, q, [wire.a_record("10.1.2.3", 60)]))
    assert out.id == query.id and out.flags & dns.flags.AA and out.flags & dns.flags.RD
    assert out.question == query.question
    assert [(r.address, rrset.ttl) for rrset in out.answer for r in rrset] == [("10.1.2.3", 60)]
    ptr_q = dns.message.make_query("3.2.1.10.in-addr.arpa", "PTR").to_wire()
    q = wire.read_question(ptr_q)
    assert q is not None
    ptr = dns.message.from_wire(wire.reply(ptr_q, q, [wire.ptr_record("web", 60)]))
    assert [r.target.to_text() for rrset in ptr.answer for r in rrset] == ["web."]
    fail = dns.message.from_wire(wire.failure(ptr_q, wire.RCODE_SERVFAIL) or b"")
    assert fail.rcode() == dns.rcode.SERVFAIL and not fail.flags & dns.flags.AA
    two = dns.message.make_query("a1", "A")
    two.question.append(two.question[0])
    assert wire.read_question(two.to_wire()) is None  # not the fast path's: passed upstream


def test_table_reloads_changes_and_notices_removal(tmp_path: Path) -> None:
    table = _table(tmp_path, [Entry("10.1.0.2", ("a1",))])
    assert table.addresses("a1") == ["10.1.0.2"] and not table.is_empty()
    tmp = tmp_path / "new.json"
    tmp.write_text(dump([Entry("10.1.0.3", ("b1",))]))
    os.replace(tmp, tmp_path / "dns.json")
    assert table.refresh() and table.addresses("a1") is None and table.name_of("10.1.0.3") == "b1"
    (tmp_path / "dns.json").unlink()
    assert not table.refresh()


def test_helpers(tmp_path: Path) -> None:
    assert reverse_ip("4.3.2.1.in-addr.arpa") == "1.2.3.4"
    assert reverse_ip("example.com") is None
    assert parse_upstream("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_upstream("10.0.0.1") == ("10.0.0.1", 53)
    conf = tmp_path / "resolv.conf"
    conf.write_text("search lan\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n")
    assert host_resolvers(str(conf)) == [("10.0.0.2", 53), ("10.0.0.3", 53)]
