"""Shared fixtures: loop parametrization, unused ports, and the CI rule for missing prerequisites.

Under CI=true a test that lacks root, a kernel feature or a package fails instead of skipping.
"""

import os
import shutil
import signal

import pytest

from tests.support.ports import free_port

__all__ = ["free_port"]  # tests import it from here

LOOPS = ("epoll", "uvloop", "asyncio")
RELAYS = ("auto", "splice", "copy")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, why: str) -> None:
    """Skip locally when a prerequisite is missing; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing under CI=true: {why}")
    pytest.skip(why)


def require_root() -> None:
    require(os.geteuid() == 0, "needs root")


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    require(path is not None, f"{name} is not installed (./scripts/setup installs it)")
    assert path is not None
    return path


@pytest.fixture(params=LOOPS)
def loop_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=RELAYS)
def relay_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _keep_sigpipe_ignored() -> object:
    """`pyengine`'s main() sets SIGPIPE to its default (so `logs | head` ends quietly); tests
    that call it in this process must not leave pytest to die of the next broken pipe."""
    before = signal.getsignal(signal.SIGPIPE)
    yield
    signal.signal(signal.SIGPIPE, before)
