"""The DNS wire format as the network DNS server needs it (RFC 1035 section 4): one plain
question read, and the replies it gives itself written. Nothing more: every other message
goes upstream untouched, so the server never has to understand it.

dnspython (PyPI `dnspython`) parsed and built these at first; for a question a container asks
of its peers it cost seven times the CPU of this (`python -m bench dns`), and its import a
resident 17 MB per network. The tests check this module against dnspython.
"""

import socket
import struct
from dataclasses import dataclass

HEADER = struct.Struct("!HHHHHH")
QTYPE_A, QTYPE_PTR, QTYPE_AAAA, QTYPE_ANY = 1, 12, 28, 255
QCLASS_IN = 1
RCODE_FORMERR, RCODE_SERVFAIL = 1, 2
FLAG_QR, FLAG_AA, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0100, 0x0080
OPCODE_MASK = 0x7800
NAME_AT_QUESTION = b"\xc0\x0c"  # a pointer to the question's name, at offset 12


@dataclass(frozen=True, slots=True)
class Question:
    """One question: its name (lower case, no final dot), type, class, and where it ends."""

    ident: int
    flags: int
    name: str
    qtype: int
    qclass: int
    end: int


def read_question(data: bytes) -> Question | None:
    """The question of a plain query (one question, no answers, at most one additional
    record, e.g. EDNS's OPT, which this path ignores); None for anything else."""
    if len(data) < HEADER.size + 5:
        return None
    ident, flags, qd, an, ns, ar = HEADER.unpack_from(data)
    if flags & FLAG_QR or qd != 1 or an or ns or ar > 1 or flags & OPCODE_MASK:
        return None
    labels = []
    at = HEADER.size
    while True:
        if at >= len(data):
            return None
        size = data[at]
        if size == 0:
            at += 1
            break
        if size > 63 or at + 1 + size > len(data):
            return None  # a pointer (never in a question) or a truncated label
        labels.append(data[at + 1 : at + 1 + size])
        at += 1 + size
    if at + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, at)
    try:
        name = b".".join(labels).decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    return Question(ident, flags, name, qtype, qclass, at + 4)


def reply(data: bytes, q: Question, records: list[bytes], rcode: int = 0) -> bytes:
    """Our answer to `q` (the query in `data`) with these answer records: authoritative,
    unless it is the SERVFAIL of a question we could not get answered."""
    authority = 0 if rcode else FLAG_AA
    flags = FLAG_QR | (q.flags & FLAG_RD) | authority | FLAG_RA | rcode
    head = HEADER.pack(q.ident, flags, 1, len(records), 0, 0)
    return head + data[HEADER.size : q.end] + b"".join(records)


def failure(data: bytes, rcode: int) -> bytes | None:
    """SERVFAIL or FORMERR for any query whose header reads (with its question when that
    reads too); None for noise, which gets no answer."""
    if len(data) < HEADER.size or data[2] & 0x80:
        return None
    q = read_question(data)
    if q is not None:
        return reply(data, q, [], rcode)
    (ident,) = struct.unpack_from("!H", data)
    flags = FLAG_QR | (data[2] << 8 & OPCODE_MASK) | FLAG_RA | rcode
    return HEADER.pack(ident, flags, 0, 0, 0, 0)


def a_record(ip: str, ttl: int) -> bytes:
    return (
        NAME_AT_QUESTION + struct.pack("!HHIH", QTYPE_A, QCLASS_IN, ttl, 4) + socket.inet_aton(ip)
    )


def ptr_record(target: str, ttl: int) -> bytes:
    rdata = b"".join(bytes([len(p)]) + p.encode() for p in target.split(".") if p) + b"\0"
    return NAME_AT_QUESTION + struct.pack("!HHIH", QTYPE_PTR, QCLASS_IN, ttl, len(rdata)) + rdata
