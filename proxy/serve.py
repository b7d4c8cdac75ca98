"""The serving loop: every mapping's proxy in one event loop, until SIGINT or SIGTERM."""

import socket
from collections.abc import Callable, Sequence

from proxy import log
from proxy.base import Clock, Proxy
from proxy.config import Mapping, ProxyConfig
from proxy.loops import run_until_stopped
from proxy.pumps import PUMPS, PumpFactory, copy_pumps
from proxy.reactor import Reactor
from proxy.stream import StreamProxy
from proxy.udp import UDPProxy


def new_proxy(  # noqa: PLR0917 - the factory takes each collaborator explicitly
    mapping: Mapping,
    listener: socket.socket,
    config: ProxyConfig,
    clock: Clock,
    reactor: Reactor,
    pumps: PumpFactory,
) -> Proxy:
    """The one place a protocol picks its implementation."""
    match mapping.proto:
        case "udp":
            return UDPProxy(listener, mapping.container, clock, reactor, config.udp_timeout)
        case "sctp":
            # splice(2) is not offered for SCTP sockets; copy through memory instead.
            return StreamProxy(
                listener, mapping.container, clock, reactor, copy_pumps(), proto="sctp"
            )
        case _:
            return StreamProxy(listener, mapping.container, clock, reactor, pumps, proto="tcp")


def serve(config: ProxyConfig, listeners: Sequence[socket.socket]) -> None:
    """Serve every mapping on the loop named by the config until a stop signal."""
    log.setup()

    def start(clock: Clock, reactor: Reactor, stop: Callable[[], None]) -> Callable[[], None]:
        pumps = PUMPS[config.relay]()
        proxies = [
            new_proxy(m, sock, config, clock, reactor, pumps)
            for m, sock in zip(config.mappings, listeners, strict=True)
        ]
        for p in proxies:
            p.start()

        def close() -> None:
            for p in proxies:
                p.close()

        return close

    run_until_stopped(config.loop, start)
