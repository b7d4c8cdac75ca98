"""Go flag-package syntax, as docker-proxy parses its command line."""

import pytest

from proxy import flags
from proxy.config import FLAGS, from_args
from proxy.errors import ConfigError, FlagError

BASE = ["-host-ip", "127.0.0.1", "-host-port", "5000", "-container-ip", "10.0.0.2"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("80", 80),
        ("0x1F90", 8080),
        ("0X1f90", 8080),
        ("045003", 18947),  # a leading zero is octal in Go
        ("0o17", 15),
        ("0b101", 5),
        ("45_002", 45002),
        ("-1", -1),
        ("+7", 7),
        ("0", 0),
    ],
)
def test_go_int_syntax(text: str, value: int) -> None:
    assert flags.parse_go_int(text) == value


@pytest.mark.parametrize("text", ["", "abc", "_1", "1_", "1__0", "08", "0x", "1.5", " 1"])
def test_go_int_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="parse error"):
        flags.parse_go_int(text)


def test_go_int_range() -> None:
    with pytest.raises(ValueError, match="value out of range"):
        flags.parse_go_int(str(1 << 63))
    assert flags.parse_go_int(str(-(1 << 63))) == -(1 << 63)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5h", 5400.0)]
)
def test_go_duration(text: str, seconds: float) -> None:
    assert flags.parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["90", "s", "1x", ""])
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        flags.parse_go_duration(text)


def test_dash_forms_and_equals() -> None:
    for argv in (
        ["-container-port", "80"],
        ["--container-port", "80"],
        ["-container-port=80"],
        ["--container-port=80"],
    ):
        cfg = from_args(BASE + argv)
        assert cfg.mappings[0].container.port == 80


def test_parsing_stops_at_first_non_flag_and_last_repeat_wins() -> None:
    cfg = from_args(
        [*BASE, "-container-port", "1", "-container-port", "2", "extra", "-proto", "udp"]
    )
    assert cfg.mappings[0].container.port == 2
    assert cfg.mappings[0].proto == "tcp"
    cfg = from_args([*BASE, "-container-port", "3", "--", "-proto", "udp"])
    assert cfg.mappings[0].proto == "tcp"


def test_bare_bool_and_bool_values() -> None:
    assert from_args([*BASE, "-container-port", "1", "-use-listen-fd"]).use_listen_fd
    assert not from_args([*BASE, "-container-port", "1", "-use-listen-fd=false"]).use_listen_fd
    # `-b false` sets true and stops at the word "false", as Go does
    assert from_args([*BASE, "-container-port", "1", "-use-listen-fd", "false"]).use_listen_fd


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-nope"], "flag provided but not defined: -nope"),
        (["-proto"], "flag needs an argument: -proto"),
        (["-host-port", "abc"], 'invalid value "abc" for flag -host-port: parse error'),
        (["---proto", "tcp"], "bad flag syntax: ---proto"),
        (["-use-listen-fd=maybe"], 'invalid boolean value "maybe" for -use-listen-fd'),
        (["-host-ip", "fe80::1%lo"], "invalid IP address: fe80::1%lo"),
        (["-host-ip", "1.2.3"], "invalid IP address: 1.2.3"),
        (["-loop", "trio"], 'invalid value "trio" for flag -loop'),
        (["-udp-timeout", "90"], 'invalid value "90" for flag -udp-timeout'),
    ],
)
def test_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        from_args(argv)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_help_is_not_an_error() -> None:
    for word in ("-h", "-help", "--help"):
        with pytest.raises(flags.HelpRequested):
            from_args([word])


def test_usage_lists_every_flag() -> None:
    text = flags.usage("pyproxy", FLAGS)
    assert text.startswith("Usage of pyproxy:\n")
    for f in FLAGS:
        assert f"  -{f.name}" in text


def test_host_ip_family_and_defaults() -> None:
    cfg = from_args(["-host-ip", "::ffff:127.0.0.1", "-host-port", "1", "-container-port", "2"])
    assert cfg.mappings[0].host.ip == "127.0.0.1"  # IPv4-mapped counts as IPv4, as in Go
    cfg = from_args(["-host-ip", "", "-host-port", "1", "-container-port", "2"])
    assert cfg.mappings[0].host.ip == "::"  # nil IP: the IPv6 wildcard
    cfg = from_args(["-host-port", "1", "-container-port", "2"])
    assert cfg.mappings[0].host.ip == "0.0.0.0"
    assert cfg.loop == "epoll"
    assert cfg.relay == "auto"
    assert cfg.udp_timeout == 90.0


def test_unsupported_protocol_is_a_startup_error() -> None:
    with pytest.raises(ConfigError, match="unsupported protocol TCP"):
        from_args(["-proto", "TCP", "-container-port", "1"])


@pytest.mark.parametrize("port", ["0", "-1", "70000"])
def test_bad_container_port(port: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid container port {port}"):
        from_args(["-container-port", port])


def test_map_ranges_expand() -> None:
    cfg = from_args(
        ["-map", "127.0.0.1:8000-8002:10.0.0.2:80-82/udp", "-map", "[::1]:9000:[fd00::2]:90"]
    )
    got = [(m.proto, str(m.host), str(m.container)) for m in cfg.mappings]
    assert got == [
        ("udp", "127.0.0.1:8000", "10.0.0.2:80"),
        ("udp", "127.0.0.1:8001", "10.0.0.2:81"),
        ("udp", "127.0.0.1:8002", "10.0.0.2:82"),
        ("tcp", "[::1]:9000", "[fd00::2]:90"),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("127.0.0.1:8000-8002:10.0.0.2:80", "3 host ports but 1 container ports"),
        ("127.0.0.1:8000:10.0.0.2:80/icmp", "unsupported protocol 'icmp'"),
        ("127.0.0.1:8000:10.0.0.2", "want HOSTIP:HOSTPORT"),
        ("127.0.0.1:9-8:10.0.0.2:80", "ports must be 0-65535, low to high"),
        ("[::1:8000:10.0.0.2:80", "unclosed '['"),
        ("1.2.3.999:80:10.0.0.2:80", "invalid IP address '1.2.3.999'"),
    ],
)
def test_map_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_args(["-map", spec])
    assert message in str(info.value)
