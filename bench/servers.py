"""Echo backends in the namespace: `python -m bench.servers tcp-echo|udp-echo PORT[-END]`.

Both write `0\\n` to fd 3 once bound, like the proxies, so the harness knows when they serve.
The TCP echo is one epoll loop (it also holds the ~10000 idle connections of the memory
scenario); the UDP echo is a blocking recvfrom/sendto loop. `direct` measures them.
"""

import os
import select
import socket
import sys

BUF = 65536


def _ready() -> None:
    try:
        os.write(3, b"0\n")
        os.close(3)
    except OSError:
        pass


def tcp_echo(ports: range) -> None:
    ep = select.epoll()
    listeners: dict[int, socket.socket] = {}
    for port in ports:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", port))
        ls.listen(4096)
        ls.setblocking(False)
        ep.register(ls.fileno(), select.EPOLLIN)
        listeners[ls.fileno()] = ls
    conns: dict[int, socket.socket] = {}
    _ready()
    while True:
        for fd, _ev in ep.poll():
            lsock = listeners.get(fd)
            if lsock is not None:
                while True:
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # EMFILE and friends: let the backlog wait
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conns[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN)
                continue
            c = conns[fd]
            try:
                data = c.recv(BUF)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    sent = c.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError:
                    data, sent = b"", 0
                if sent < len(data):
                    c.setblocking(True)
                    try:
                        c.sendall(data[sent:])
                    except OSError:
                        data = b""
                    c.setblocking(False)
            if not data:
                ep.unregister(fd)
                del conns[fd]
                c.close()


def udp_echo(ports: range) -> None:
    (port,) = ports
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind(("0.0.0.0", port))
    _ready()
    recvfrom, sendto = sock.recvfrom, sock.sendto
    while True:
        data, addr = recvfrom(BUF)
        try:
            sendto(data, addr)
        except OSError:
            pass


def main(argv: list[str]) -> None:
    kind, (first, _, last) = argv[0], argv[1].partition("-")
    ports = range(int(first), int(last or first) + 1)
    try:
        {"tcp-echo": tcp_echo, "udp-echo": udp_echo}[kind](ports)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
