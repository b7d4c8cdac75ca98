"""Fixtures for running the real pyproxy binary through its process contract."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.proxyproc import ProxyProcess

StartProxy = Callable[..., ProxyProcess]


@pytest.fixture
def start_proxy(loop_name: str) -> Iterator[StartProxy]:
    """Start pyproxy on the parametrized loop; every process is killed at teardown."""
    started: list[ProxyProcess] = []

    def start(args: list[str], *, ready: bool = True, **kwargs: Any) -> ProxyProcess:
        proc = ProxyProcess([*args, "-loop", loop_name], **kwargs)
        started.append(proc)
        return proc.ready() if ready else proc

    yield start
    for proc in started:
        proc.close()
