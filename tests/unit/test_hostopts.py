"""--hostname, --add-host, --dns and capability flags (engine/containers/hostopts.py) and the
files they shape (engine/lifecycle/bundle.py)."""

from pathlib import Path

import pytest

from engine.containers.errors import InvalidOptionError
from engine.containers.hostopts import capabilities, check_hostname, check_mac, parse_add_host
from engine.containers.record import HostConfig
from engine.lifecycle.bundle import DOCKER_CAPS, _resolv_conf

BASE = ("CAP_CHOWN", "CAP_KILL")


def test_capability_merges_follow_docker() -> None:
    assert capabilities(BASE, ["net_admin"], ["CAP_KILL"]) == ("CAP_CHOWN", "CAP_NET_ADMIN")
    assert capabilities(BASE, ["KILL"], ["ALL"]) == ("CAP_KILL",)
    assert "CAP_SYS_ADMIN" in capabilities(BASE, ["ALL"], [])
    assert capabilities(DOCKER_CAPS, [], []) == DOCKER_CAPS
    with pytest.raises(InvalidOptionError, match='unknown capability: "CAP_NOPE"'):
        capabilities(BASE, ["CAP_NOPE"], [])


def test_add_host_and_hostname_checks() -> None:
    assert parse_add_host("db:10.0.0.5") == ("db", "10.0.0.5")
    assert parse_add_host("v6:fe80::1") == ("v6", "fe80::1")
    assert parse_add_host("gw:host-gateway") == ("gw", "host-gateway")
    with pytest.raises(InvalidOptionError, match="bad format for add-host"):
        parse_add_host("nocolon")
    with pytest.raises(InvalidOptionError, match=r'invalid IP address in add-host: "x\.y"'):
        parse_add_host("db:x.y")
    assert check_hostname("web-1.example") == "web-1.example"
    with pytest.raises(InvalidOptionError, match="invalid hostname format: -x"):
        check_hostname("-x")


def test_dns_flags_replace_their_lines_only(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch lan\noptions edns0\n")
    assert _resolv_conf(host, HostConfig()) == "nameserver 192.0.2.1\nsearch lan\noptions edns0\n"
    given = HostConfig(dns=("10.9.9.9", "10.9.9.10"), dns_options=("ndots:2",))
    assert _resolv_conf(host, given) == (
        "search lan\nnameserver 10.9.9.9\nnameserver 10.9.9.10\noptions ndots:2\n"
    )


def test_mac_check() -> None:
    assert check_mac("02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    assert check_mac("") == ""
    with pytest.raises(InvalidOptionError, match="03:00:00:00:00:00 is not a valid mac"):
        check_mac("03:00:00:00:00:00")
