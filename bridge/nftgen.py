"""Skip a re-assertion of our chains when no nftables transaction happened since the last one.

Why: CNI passes the configuration on every call and gives no other moment to heal a flushed
ruleset, so every ADD re-applies the network's part of our table (base chains and the network's
chains, flushed and refilled). That transaction costs more than the rest of ADD together: about
1 ms in libnftables, the load of libnftables itself, and above all the close of its netlink
socket, which waits for the kernel to free the replaced rules after an RCU grace period
(nf_tables' NETLINK_URELEASE handler flushes its destroy work: about 12 ms here).

How: the kernel numbers the nftables transactions of each network namespace (the ruleset
generation, NFT_MSG_GETGEN). After applying an idempotent batch we write a stamp: (boot id,
namespace cookie, generation, digest of the batch). If the generation read before the next
application of the same batch is still the stamped one, no transaction of anyone's happened in
between, the ruleset is exactly what our batch left, and applying it again would change
nothing but rule handles: it is skipped. The stamp is only written when the generation moved by
exactly one across our own transaction (no other writer in between), and the boot id plus the
namespace cookie (never reused before a reboot) keep a stamp from vouching for another
namespace. Anything unreadable or unsupported (no SO_NETNS_COOKIE before Linux 5.14) means no
skip: the batch is applied as before.
"""

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Callable

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWGEN, NFT_MSG_GETGEN = 15, 16
NFTA_GEN_ID = 1
NLM_F_REQUEST, NLMSG_ERROR = 1, 2
SO_NETNS_COOKIE = 71
BOOT_ID = "/proc/sys/kernel/random/boot_id"
_HDR = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")  # family, version, res_id (big-endian, 0 here)


class Generation:
    """Reads the ruleset generation of the namespace its netfilter socket lives in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def cookie(self) -> int | None:
        """The namespace's cookie, unique until reboot (None: the kernel has none)."""
        try:
            raw = self.sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
        except OSError:
            return None
        return int.from_bytes(raw, sys.byteorder)  # a u64 in host order

    def read(self) -> int | None:
        """The current generation (None: nf_tables unavailable or an unexpected answer)."""
        try:
            return self._read()
        except OSError:
            return None

    def _read(self) -> int | None:
        self._seq += 1
        kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
        body = _NFGEN.pack(socket.AF_UNSPEC, 0, 0)
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST, self._seq, 0) + body)
        data = self.sock.recv(65536)
        off = 0
        while off + _HDR.size <= len(data):
            length, kind, _flags, seq, _pid = _HDR.unpack_from(data, off)
            if length < _HDR.size:
                return None
            if seq == self._seq:
                if kind == NLMSG_ERROR:
                    return None
                if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
                    return _gen_id(data[off + _HDR.size + _NFGEN.size : off + length])
            off += (length + 3) & ~3
        return None


def _gen_id(attrs: bytes) -> int | None:
    off = 0
    while off + 4 <= len(attrs):
        length, kind = struct.unpack_from("=HH", attrs, off)
        if length < 4:
            return None
        if kind & 0x3FFF == NFTA_GEN_ID and length >= 8:
            return int(struct.unpack_from("!I", attrs, off + 4)[0])
        off += (length + 3) & ~3
    return None


def apply_once(gen: Generation, stamp: str, digest: str, apply: Callable[[], None]) -> None:
    """Call `apply` (which commits the batch of `digest`) unless the stamp file says this batch
    is what the ruleset holds since the current generation; then re-stamp."""
    boot, cookie, before = boot_id(), gen.cookie(), gen.read()
    where = f"{boot} {cookie}" if boot and cookie is not None else None
    if (
        where is not None
        and before is not None
        and read_stamp(stamp) == f"{where} {before} {digest}\n"
    ):
        return
    apply()
    after = gen.read()
    text = ""
    if where is not None and before is not None and after == before + 1:
        text = f"{where} {after} {digest}\n"  # our commit was the only one
    # Written even when it vouches for nothing, so that whether the file exists does not
    # depend on other writers' timing: the state root holds the same files either way.
    write_stamp(stamp, text)


def boot_id() -> str:
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def read_stamp(path: str) -> str:
    """The stamp file's text ("" if absent or unreadable: no skip)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def write_stamp(path: str, text: str) -> None:
    """One short write(2): a reader sees the old text, nothing, or the new text; a torn or
    empty stamp never matches, so the worst case is one transaction that was not needed."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
