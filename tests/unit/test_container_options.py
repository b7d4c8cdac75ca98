"""Docker's option rules for containers: -p, --memory, --cpus, --restart, signals, names, status."""

import signal

import pytest

from engine import text as text_helpers
from engine.cli.exitcodes import exit_code
from engine.containers import names, restart, status, units
from engine.containers.errors import InvalidOptionError
from engine.containers.ports import PortBinding, parse_exposed, parse_publish


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortBinding(80)]),
        ("8080:80", [PortBinding(80, host_port=8080)]),
        ("127.0.0.1:8080:80/udp", [PortBinding(80, "udp", "127.0.0.1", 8080)]),
        ("127.0.0.1::80", [PortBinding(80, host_ip="127.0.0.1")]),
        ("[::1]:8080:80", [PortBinding(80, host_ip="::1", host_port=8080)]),
        ("::1:8080:80", [PortBinding(80, host_ip="::1", host_port=8080)]),
        ("8000-8001:80-81/TCP", [PortBinding(80, host_port=8000), PortBinding(81, host_port=8001)]),
        ("8000-8010:80", [PortBinding(80, host_range=(8000, 8010))]),
        ("80-81", [PortBinding(80), PortBinding(81)]),
    ],
)
def test_publish_specs_expand_like_docker(spec: str, expected: list[PortBinding]) -> None:
    assert parse_publish(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("abc", "invalid containerPort: abc"),
        ("x:80", "invalid hostPort: x"),
        ("8080:0", "invalid containerPort: 0"),
        ("70000:80", "invalid hostPort: 70000"),
        ("80/icmp", "invalid proto: icmp"),
        ("1.2.3.999:80:80", "invalid ip address: 1.2.3.999"),
        ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and"),
        ("90-80", "invalid containerPort: 90-80"),
        ("[::1:80:80", "invalid ip address"),
    ],
)
def test_bad_publish_specs_are_refused_with_dockers_message(spec: str, message: str) -> None:
    with pytest.raises(InvalidOptionError, match="^" + message.replace("[", r"\[")) as err:
        parse_publish(spec)
    assert exit_code(err.value) == 125


def test_a_thousand_and_one_port_range_expands_one_to_one() -> None:
    bindings = parse_publish("20000-21000:20000-21000")
    assert len(bindings) == 1001
    assert all(b.host_port == b.container_port for b in bindings)
    assert bindings[-1].key() == "21000/tcp"


def test_exposed_ports() -> None:
    assert parse_exposed("53/udp") == (53, "udp")
    assert parse_exposed("80") == (80, "tcp")
    with pytest.raises(InvalidOptionError):
        parse_exposed("80/xyz")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1 << 20),
        ("512m", 512 << 20),
        ("1g", 1 << 30),
        ("1.5GiB", 3 << 29),
        ("64 MB", 64 << 20),
    ],
)
def test_sizes_use_binary_multiples(text: str, size: int) -> None:
    assert units.ram_in_bytes(text) == size


def test_memory_limits_follow_docker() -> None:
    assert units.memory_limit("6m") == 6 << 20
    with pytest.raises(InvalidOptionError, match="Minimum memory limit allowed is 6MB"):
        units.memory_limit("4m")
    with pytest.raises(InvalidOptionError, match="invalid size: 'lots'"):
        units.memory_limit("lots")


def test_cpus_are_nano_cpus_within_the_host() -> None:
    assert units.nano_cpus("1.5", 2) == 1_500_000_000
    assert units.nano_cpus("0", 2) == 0
    with pytest.raises(InvalidOptionError, match=r"range of CPUs is from 0\.01 to 2\.00"):
        units.nano_cpus("3", 2)
    with pytest.raises(InvalidOptionError, match="failed to parse x as a rational number"):
        units.nano_cpus("x", 2)


def test_signals_by_name_and_number() -> None:
    for text in ("KILL", "SIGKILL", "kill", "9"):
        assert units.parse_signal(text) == signal.SIGKILL
    assert units.parse_signal("USR1") == signal.SIGUSR1
    for bad in ("NOPE", "0", "999", "SIG", "-1"):
        with pytest.raises(InvalidOptionError, match="invalid signal"):
            units.parse_signal(bad)


def test_restart_policies_parse_and_refuse_like_docker() -> None:
    assert restart.parse_restart("no") == restart.RestartPolicy("no")
    assert restart.parse_restart("on-failure:3") == restart.RestartPolicy("on-failure", 3)
    assert str(restart.parse_restart("on-failure:3")) == "on-failure:3"
    for bad, message in [
        ("sometimes", "unknown policy 'sometimes'"),
        ("always:3", "can only be used with 'on-failure'"),
        ("on-failure:-1", "cannot be negative"),
        ("on-failure:x", "must be an integer"),
    ]:
        with pytest.raises(InvalidOptionError, match=message):
            restart.parse_restart(bad)


def test_restart_decisions() -> None:
    on_failure = restart.RestartPolicy("on-failure", 2)
    assert on_failure.wants_restart(1, 0, stopped_by_user=False)
    assert not on_failure.wants_restart(0, 0, stopped_by_user=False)
    assert not on_failure.wants_restart(1, 2, stopped_by_user=False)
    assert restart.RestartPolicy("always").wants_restart(0, 99, stopped_by_user=False)
    assert not restart.RestartPolicy("always").wants_restart(1, 0, stopped_by_user=True)
    assert restart.RestartPolicy("unless-stopped").on_engine_start(stopped_by_user=False)
    assert not restart.RestartPolicy("unless-stopped").on_engine_start(stopped_by_user=True)
    assert restart.RestartPolicy("always").on_engine_start(stopped_by_user=True)
    assert not restart.RestartPolicy("on-failure").on_engine_start(stopped_by_user=False)


def test_backoff_doubles_from_100ms_caps_at_a_minute_and_resets() -> None:
    delays = [restart.next_delay(0, 0)]
    for _ in range(12):
        delays.append(restart.next_delay(delays[-1], 1.0))
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert restart.next_delay(60.0, 10.0) == 0.1


def test_names_and_ids() -> None:
    assert names.check_name("/web.1") == "web.1"
    for bad in ("a", "a/b", "-x", "caf\u00e9"):
        with pytest.raises(InvalidOptionError, match="Invalid container name"):
            names.check_name(bad)
    ident = names.new_id()
    assert len(ident) == 64 and int(ident, 16) >= 0
    assert names.check_name(names.random_name())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (90, "About a minute"),
        (600, "10 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (90 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_durations(seconds: float, text: str) -> None:
    assert text_helpers.human_duration(seconds) == text


def test_status_text_per_state() -> None:
    now = 1000.0
    running = status.StatusFacts("running", started_at=now - 180)
    assert status.status_text(running, now) == "Up 3 minutes"
    paused = status.StatusFacts("paused", started_at=now - 5)
    assert status.status_text(paused, now) == "Up 5 seconds (Paused)"
    exited = status.StatusFacts("exited", finished_at=now - 7200, exit_code=137)
    assert status.status_text(exited, now) == "Exited (137) 2 hours ago"
    assert status.status_text(status.StatusFacts("created"), now) == "Created"
    assert status.status_text(status.StatusFacts("dead"), now) == "Dead"
