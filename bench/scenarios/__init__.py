"""The scenarios, in the order a round runs them."""

from bench.context import Settings
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.scenarios.bulk import TcpBulk, UdpBulk
from bench.scenarios.http import ConnectionRate, HttpKeepAlive
from bench.scenarios.latency import PingPong, UdpRequestResponse
from bench.scenarios.memory import Memory
from bench.scenarios.portrange import PortRange
from bench.scenarios.startup import Startup

ORDER: tuple[type[Scenario], ...] = (
    Startup,
    Memory,
    PingPong,
    UdpRequestResponse,
    HttpKeepAlive,
    ConnectionRate,
    TcpBulk,
    UdpBulk,
    PortRange,
)
NAMES = tuple(cls.name for cls in ORDER)

__all__ = ["NAMES", "Metric", "Outcome", "Scenario", "build"]


def build(settings: Settings, only: list[str] | None = None) -> list[Scenario]:
    """Instantiate the scenarios (all, or those named in `only`, kept in round order)."""
    wanted = {n.replace("_", "-") for n in only} if only else set(NAMES)
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(NAMES)}"
        )
    return [cls(settings) for cls in ORDER if cls.name in wanted]
