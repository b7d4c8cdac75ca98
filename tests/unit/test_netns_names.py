"""netns name and path rules (no root)."""

import pytest

import netns
from netns.ns import validate_name


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "x\0y", "n" * 256])
def test_bad_names(bad: str) -> None:
    with pytest.raises(netns.NetnsNameError):
        validate_name(bad)


def test_paths() -> None:
    assert netns.path("pytx") == "/run/netns/pytx"
    assert netns.path("/proc/1/ns/net") == "/proc/1/ns/net"
    assert not netns.exists("pyt-surely-not-there")
    with pytest.raises(netns.NetnsNotFoundError):
        netns.open_fd("/nonexistent/pyt")
