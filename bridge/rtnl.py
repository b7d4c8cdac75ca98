"""A tiny synchronous rtnetlink client for the hot path of ADD.

pyroute2 drives every request through an asyncio loop (about 0.4 ms each here); the container
side of an endpoint needs four fixed requests (find the interface, address it, bring it up,
route), so they are encoded here with `struct` and sent as one batch: one sendmsg, four acks.
Anything less regular (veth creation with a peer namespace) stays with pyroute2.
"""

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

NLM_F_REQUEST, NLM_F_ACK, NLM_F_ECHO, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 8, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP = 0x300
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE = 20, 22, 24
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 10, 18
IFLA_PROTINFO, IFLA_NET_NS_FD = 12, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_BRPORT_MODE = 4
NLA_F_NESTED = 0x8000
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 1
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
_HDR = struct.Struct("=IHHII")


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


class Batch:
    """Requests to send together; `send` raises OSError for the first one the kernel refused."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def add(self, kind: int, flags: int, body: bytes) -> None:
        self.messages.append(struct.pack("=HH", kind, flags | NLM_F_REQUEST | NLM_F_ACK) + body)

    def new_addr(self, index: int, addr: str, prefixlen: int, flags: int = 0) -> None:
        ip = ipaddress.ip_address(addr)
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        body = struct.pack("=BBBBI", family, prefixlen, 0, 0, index)
        body += _attr(IFA_LOCAL, ip.packed) + _attr(IFA_ADDRESS, ip.packed)
        if flags:
            body += _attr(IFA_FLAGS, struct.pack("=I", flags))
        self.add(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def new_veth(
        self,
        *,
        name: str,
        peer: str,
        ns_fd: int,
        master: int,
        mtu: int,
        mac: str,
        peer_mac: str,
    ) -> None:
        """A veth pair, host end enslaved and UP, peer created inside the namespace `ns_fd`."""

        def link_attrs(ifname: str, address: str) -> bytes:
            raw = _attr(IFLA_IFNAME, ifname.encode() + b"\0")
            raw += _attr(IFLA_ADDRESS, bytes.fromhex(address.replace(":", "")))
            return raw + (_attr(IFLA_MTU, struct.pack("=I", mtu)) if mtu else b"")

        peer_msg = struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0) + link_attrs(peer, peer_mac)
        peer_msg += _attr(IFLA_NET_NS_FD, struct.pack("=I", ns_fd))
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(
            IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER | NLA_F_NESTED, peer_msg)
        )
        body = struct.pack("=BBHiII", 0, 0, 0, 0, IFF_UP, IFF_UP) + link_attrs(name, mac)
        body += _attr(IFLA_MASTER, struct.pack("=I", master))
        body += _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self.add(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, body)

    def del_link(self, name: str) -> None:
        body = struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0)
        self.add(RTM_DELLINK, 0, body + _attr(IFLA_IFNAME, name.encode() + b"\0"))

    def link_up(self, index: int) -> None:
        self.add(RTM_NEWLINK, 0, struct.pack("=BBHiII", 0, 0, 0, index, IFF_UP, IFF_UP))

    def hairpin(self, index: int) -> None:
        mode = _attr(IFLA_BRPORT_MODE, b"\x01")
        body = struct.pack("=BBHiII", socket.AF_BRIDGE, 0, 0, index, 0, 0)
        self.add(RTM_SETLINK, 0, body + _attr(IFLA_PROTINFO | NLA_F_NESTED, mode))

    def default_route(self, gateway: str, oif: int) -> None:
        gw = ipaddress.ip_address(gateway)
        family = socket.AF_INET if gw.version == 4 else socket.AF_INET6
        body = struct.pack(
            "=BBBBBBBBI", family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0
        )
        body += _attr(RTA_GATEWAY, gw.packed) + _attr(RTA_OIF, struct.pack("=I", oif))
        self.add(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)


class Rtnl:
    """A NETLINK_ROUTE socket (created by the caller, possibly in another namespace with
    `netns.netlink_in`)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.bind((0, 0))
        self._seq = 0

    def __repr__(self) -> str:
        return f"<Rtnl fd={self.sock.fileno()}>"

    def close(self) -> None:
        self.sock.close()

    def _frames(self, batch: Batch) -> tuple[bytes, list[int]]:
        out, seqs = [], []
        for msg in batch.messages:
            self._seq += 1
            kind, flags = struct.unpack_from("=HH", msg)
            out.append(_HDR.pack(_HDR.size + len(msg) - 4, kind, flags, self._seq, 0) + msg[4:])
            seqs.append(self._seq)
        return b"".join(out), seqs

    def _replies(self, pending: set[int]) -> Iterator[tuple[int, int, bytes]]:
        while pending:
            data = self.sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                length, kind, _flags, seq, _pid = _HDR.unpack_from(data, off)
                yield seq, kind, data[off + _HDR.size : off + length]
                if kind == NLMSG_ERROR:
                    pending.discard(seq)
                off += (length + 3) & ~3

    def send(self, batch: Batch) -> int | None:
        """Send all requests at once; raise OSError(errno) for the first refused one. Returns
        the index of the first link the kernel echoed back (new_veth), if any."""
        frame, seqs = self._frames(batch)
        self.sock.send(frame)
        first_error = 0
        echoed = None
        for _seq, kind, body in self._replies(set(seqs)):
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", body)
                if code and not first_error:
                    first_error = -code
            elif kind == RTM_NEWLINK and echoed is None:
                echoed = int(struct.unpack_from("=i", body, 4)[0])
        if first_error:
            raise OSError(first_error, os.strerror(first_error))
        return echoed

    def link(self, ifname: str) -> tuple[int, str] | None:
        """(index, MAC) of `ifname`, None if there is none."""
        batch = Batch()
        body = struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0)
        batch.add(RTM_GETLINK, 0, body + _attr(IFLA_IFNAME, ifname.encode() + b"\0"))
        frame, seqs = self._frames(batch)
        self.sock.send(frame)
        found = None
        for _seq, kind, payload in self._replies(set(seqs)):
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", payload)
                if code and -code != errno.ENODEV:
                    raise OSError(-code, os.strerror(-code))
            elif kind == RTM_NEWLINK:
                index = int(struct.unpack_from("=i", payload, 4)[0])
                found = (index, _mac_attr(payload[16:]))
        return found

    def index(self, ifname: str) -> int | None:
        """The interface index of `ifname`, None if there is none."""
        found = self.link(ifname)
        return found[0] if found else None

    def addresses(self, index: int) -> set[str]:
        """The addresses of link `index` (IFA_ADDRESS of both families, as inet_ntop prints
        them, which is also what pyroute2's get_addr reports)."""
        self._seq += 1
        seq = self._seq
        body = struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)
        flags = NLM_F_REQUEST | NLM_F_DUMP
        self.sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETADDR, flags, seq, 0) + body)
        found: set[str] = set()
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                length, kind, _flags, mseq, _pid = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    raise OSError(errno.EBADMSG, "short netlink message")
                if mseq == seq:
                    if kind == NLMSG_DONE:
                        return found
                    if kind == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, off + _HDR.size)
                        if code:
                            raise OSError(-code, os.strerror(-code))
                    elif kind == RTM_NEWADDR:
                        family, _plen, _fl, _scope, at = struct.unpack_from(
                            "=BBBBI", data, off + _HDR.size
                        )
                        raw = _attr_value(data[off + _HDR.size + 8 : off + length], IFA_ADDRESS)
                        if at == index and raw is not None:
                            found.add(socket.inet_ntop(family, raw))
                off += (length + 3) & ~3

    def delete(self, name: str) -> bool:
        """Delete link `name`; False if it did not exist."""
        batch = Batch()
        batch.del_link(name)
        try:
            self.send(batch)
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True


def _attr_value(attrs: bytes, wanted: int) -> bytes | None:
    off = 0
    while off + 4 <= len(attrs):
        length, kind = struct.unpack_from("=HH", attrs, off)
        if length < 4:
            break
        if kind == wanted:
            return attrs[off + 4 : off + length]
        off += (length + 3) & ~3
    return None


def _mac_attr(attrs: bytes) -> str:
    off = 0
    while off + 4 <= len(attrs):
        length, kind = struct.unpack_from("=HH", attrs, off)
        if length < 4:
            break
        if kind == IFLA_ADDRESS:
            return ":".join(f"{b:02x}" for b in attrs[off + 4 : off + length])
        off += (length + 3) & ~3
    return ""
