"""The serving loop: every mapping's proxy in one event loop, until SIGINT or SIGTERM."""

import _socket
import asyncio
import signal
import socket
from collections.abc import Sequence

from proxy import log
from proxy.base import Proxy
from proxy.config import Mapping, ProxyConfig
from proxy.loops import loop_factory
from proxy.pumps import PUMPS, PumpFactory, copy_pumps
from proxy.reactor import Reactor
from proxy.stream import StreamProxy
from proxy.udp import UDPProxy


def new_proxy(  # noqa: PLR0917 - the factory takes each collaborator explicitly
    mapping: Mapping,
    listener: socket.socket,
    config: ProxyConfig,
    loop: asyncio.AbstractEventLoop,
    reactor: Reactor,
    pumps: PumpFactory,
) -> Proxy:
    """The one place a protocol picks its implementation."""
    match mapping.proto:
        case "udp":
            return UDPProxy(listener, mapping.container, loop, reactor, config.udp_timeout)
        case "sctp":
            # splice(2) is not offered for SCTP sockets; copy through memory instead.
            return StreamProxy(
                listener, mapping.container, loop, reactor, copy_pumps(), proto="sctp"
            )
        case _:
            return StreamProxy(listener, mapping.container, loop, reactor, pumps, proto="tcp")


async def serve_until_stopped(config: ProxyConfig, listeners: Sequence[socket.socket]) -> None:
    """Serve every mapping until SIGINT or SIGTERM, then close them all."""
    loop = asyncio.get_running_loop()
    pumps = PUMPS[config.relay]()
    reactor = Reactor(loop)
    proxies = [
        new_proxy(m, sock, config, loop, reactor, pumps)
        for m, sock in zip(config.mappings, listeners, strict=True)
    ]
    stopped = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    for p in proxies:
        p.start()
    await stopped
    for p in proxies:
        p.close()
    reactor.close()


def serve(config: ProxyConfig, raw_listeners: Sequence[_socket.socket]) -> None:
    """Run the loop named by the config until a stop signal."""
    log.setup()
    # The listeners were opened as bare _socket objects before readiness (see proxy.cli).
    listeners = [socket.socket(fileno=raw.detach()) for raw in raw_listeners]
    with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
        runner.run(serve_until_stopped(config, listeners))
