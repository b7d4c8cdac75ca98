"""Fixtures for running the real pyproxy binary through its process contract."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.proxyproc import ProxyProcess

StartProxy = Callable[..., ProxyProcess]


MODES = ("standalone", "shared")


@pytest.fixture(params=MODES)
def proxy_mode(request: pytest.FixtureRequest) -> str:
    """standalone: the process serves its port; shared: it hands it to the hub and waits."""
    return str(request.param)


@pytest.fixture
def start_proxy(loop_name: str, proxy_mode: str) -> Iterator[StartProxy]:
    """Start pyproxy on the parametrized loop and mode; every process is killed at teardown."""
    started: list[ProxyProcess] = []

    def start(args: list[str], *, ready: bool = True, **kwargs: Any) -> ProxyProcess:
        proc = ProxyProcess([*args, "-loop", loop_name, "-mode", proxy_mode], **kwargs)
        started.append(proc)
        return proc.ready() if ready else proc

    yield start
    for proc in started:
        proc.close()
