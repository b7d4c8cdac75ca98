"""create/run flags merged with the image's config, refused where Docker refuses them."""

import signal

import pytest

from engine.cli.exitcodes import exit_code
from engine.containers.errors import InvalidOptionError
from engine.containers.flags import ImageDefaults, RunFlags
from engine.containers.request import build_request

HTTPD = ImageDefaults(
    cmd=("httpd", "-f"),
    env=("PATH=/bin", "A=image"),
    workdir="/www",
    exposed=("80/tcp", "53/udp"),
)


def test_the_image_fills_what_the_flags_leave_out() -> None:
    req = build_request(
        RunFlags(image="web", env=("A=flag", "HOME")), HTTPD, environ={"HOME": "/r"}
    )
    assert req.config.cmd == ("httpd", "-f")
    assert req.config.env == ("PATH=/bin", "A=flag", "HOME=/r")
    assert req.config.workdir == "/www"
    assert req.config.stop_signal == signal.SIGTERM and req.config.stop_timeout == 10
    assert req.host.ports == () and req.config.exposed == ("53/udp", "80/tcp")


def test_a_variable_without_value_is_dropped_when_unset() -> None:
    req = build_request(RunFlags(image="x", command=("true",), env=("NOPE",)), HTTPD, environ={})
    assert req.config.env == ("PATH=/bin", "A=image")


def test_entrypoint_flag_drops_the_image_cmd() -> None:
    req = build_request(RunFlags(image="x", entrypoint="/bin/sh -c"), HTTPD)
    assert req.config.entrypoint == ("/bin/sh", "-c") and req.config.cmd == ()
    req = build_request(RunFlags(image="x", entrypoint="echo", command=("hi",)), HTTPD)
    assert (req.config.entrypoint, req.config.cmd) == (("echo",), ("hi",))


def test_publish_all_adds_every_exposed_port_not_published_yet() -> None:
    req = build_request(
        RunFlags(image="x", publish=("8080:80",), publish_all=True, expose=("9000",)), HTTPD
    )
    assert sorted((b.key(), b.host_port) for b in req.host.ports) == [
        ("53/udp", 0),
        ("80/tcp", 8080),
        ("9000/tcp", 0),
    ]


def test_resources_and_policies() -> None:
    req = build_request(
        RunFlags(
            image="x", memory="64m", cpus="0.5", pids_limit=50, restart="on-failure:2",
            stop_signal="USR1", stop_timeout=-1, name="/web",
        ),
        HTTPD,
        cpu_count=2,
    )  # fmt: skip
    assert (req.host.memory, req.host.nano_cpus, req.host.pids_limit) == (64 << 20, 5 * 10**8, 50)
    assert str(req.host.restart) == "on-failure:2"
    assert req.config.stop_signal == signal.SIGUSR1 and req.config.stop_timeout == -1
    assert req.name == "web"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            RunFlags(image="x", auto_remove=True, restart="always"),
            "Conflicting options: --restart and --rm",
        ),
        (RunFlags(image="x", memory="1k"), "Minimum memory limit allowed is 6MB"),
        (RunFlags(image="x", memory="big"), "invalid size: 'big'"),
        (RunFlags(image="x", restart="sometimes"), "unknown policy 'sometimes'"),
        (RunFlags(image="x", publish=("80:abc",)), "invalid containerPort: abc"),
        (RunFlags(image="x", name="a/b"), r"Invalid container name \(a/b\)"),
        (RunFlags(image="x", stop_signal="NOPE"), "invalid signal: NOPE"),
        (RunFlags(image="x", env=("=x",)), "invalid environment variable: =x"),
        (RunFlags(image="x", cpus="9"), "range of CPUs"),
    ],
)
def test_bad_flags_are_refused_with_125(flags: RunFlags, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message) as err:
        build_request(flags, HTTPD, cpu_count=2)
    assert exit_code(err.value) == 125


def test_no_command_at_all_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="No command specified"):
        build_request(RunFlags(image="scratchy"), ImageDefaults())


def test_no_ports_on_host_or_none_networks() -> None:
    req = build_request(RunFlags(image="x", network="host", publish=("80:80",)), HTTPD)
    assert req.host.ports == ()


def test_log_options_follow_json_file() -> None:
    req = build_request(RunFlags(image="x", log_opts=("max-size=1k", "max-file=3")), HTTPD)
    assert (req.host.log_max_size, req.host.log_max_file) == (1024, 3)
    for opts, message in [
        (("max-file=3",), "max-file can only be used with max-size"),
        (("max-size=0",), "max-size must be a positive number"),
        (("max-file=0", "max-size=1m"), "max-file cannot be less than 1"),
        (("compress",), "invalid log opt format 'compress'"),
        (("labels=a",), "unknown log opt 'labels'"),
    ]:
        with pytest.raises(InvalidOptionError, match=message):
            build_request(RunFlags(image="x", log_opts=opts), HTTPD)
