"""A gratuitous ARP from a new endpoint, as Docker (28 and later) sends one.

Endpoints get a random MAC, and the lowest free address is handed out first, so a container
that restarts often gets its old address with a new MAC. Its neighbours' caches still hold the
old MAC and would keep sending there until the entry goes stale and the kernel's unicast probes
fail (seconds). One ARP request for its own address, broadcast from the container's end,
updates every cache that holds the address.
"""

from __future__ import annotations

import socket
import threading

import netns

ETH_P_ARP = 0x0806


def arp_frame(mac: str, ipv4: str) -> bytes:
    """Ethernet broadcast carrying an ARP request whose sender and target are `ipv4`."""
    hw = bytes.fromhex(mac.replace(":", ""))
    addr = socket.inet_aton(ipv4)
    ethernet = b"\xff" * 6 + hw + ETH_P_ARP.to_bytes(2, "big")
    # htype Ethernet, ptype IPv4, hlen 6, plen 4, op request
    arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + hw + addr + b"\x00" * 6 + addr
    return ethernet + arp


def announce(ref: str, ifname: str, mac: str, ipv4: str) -> None:
    """Broadcast the announcement from `ifname` in namespace `ref`. Best effort: a cache it
    misses only takes the slow path, so a failure here must not fail the endpoint."""
    try:
        # protocol 0: a socket that only sends, so no receive hook is registered
        sock = netns.call_in(ref, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
    except OSError:
        return
    try:
        sock.sendto(arp_frame(mac, ipv4), (ifname, ETH_P_ARP))
    except OSError:
        pass
    finally:
        # Closing a packet socket waits for an RCU grace period (synchronize_net, about 8 ms
        # here) even when it never received: a thread waits for it instead of the caller.
        threading.Thread(target=sock.close, name="close-packet-socket", daemon=True).start()
