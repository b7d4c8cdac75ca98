"""CNI parsing and error objects, without root: nothing here reaches the kernel."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.cni import run
from bridge.cni.conf import network_of, parse_args, parse_call, ports_of, request_of
from bridge.cni.errors import CniError

REPO = str(Path(__file__).resolve().parents[2])
CONF: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "name": "mynet",
    "type": "pybridge",
    "bridge": "pytbr0",
    "isDefaultGateway": True,
    "ipMasq": True,
    "mtu": 1450,
    "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.242.9.0/24"}], [{"subnet": "fd42:242:9::/64"}]],
    },
}
ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "abc",
    "CNI_NETNS": "/run/netns/x",
    "CNI_IFNAME": "eth0",
}


def call(env: dict[str, str] | None = None, conf: Any = CONF) -> Any:
    return parse_call(ENV if env is None else env, json.dumps(conf).encode())


def test_reference_keys_map_onto_a_network() -> None:
    cfg = network_of(CONF)
    assert (cfg.name, cfg.bridge, str(cfg.subnet), str(cfg.gateway)) == (
        "mynet",
        "pytbr0",
        "10.242.9.0/24",
        "10.242.9.1",
    )
    assert str(cfg.subnet6) == "fd42:242:9::/64"
    assert (cfg.masquerade, cfg.gateway_on_bridge, cfg.default_route, cfg.mtu) == (
        True,
        True,
        True,
        1450,
    )
    assert cfg.policy == "round-robin" and not cfg.isolate  # host-local and bridge behaviour
    old_style = CONF | {
        "ipam": {
            "type": "host-local",
            "subnet": "10.242.9.0/24",
            "rangeStart": "10.242.9.10",
            "routes": [{"dst": "0.0.0.0/0"}],
        },
        "isDefaultGateway": False,
    }
    cfg = network_of(old_style)
    assert str(cfg.range_start) == "10.242.9.10" and cfg.default_route
    assert not cfg.gateway_on_bridge


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"ipam": {"type": "dhcp"}}, 7, "host-local"),
        ({"ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/33"}]]}}, 7, "subnet"),
        ({"ipam": {"type": "host-local"}}, 7, "no ranges"),
        ({"hairpinMode": True, "promiscMode": True}, 7, "hairpin"),
        ({"vlan": 100}, 2, "vlan"),
        ({"name": "bad/name"}, 7, "network name"),
    ],
)
def test_bad_configs(change: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(CniError, match=message) as info:
        network_of(CONF | change)
    assert info.value.code == code


def test_environment_errors() -> None:
    with pytest.raises(CniError, match=r"\[CNI_COMMAND\] missing") as info:
        call({})
    assert info.value.code == 4
    with pytest.raises(CniError, match=r"\[CNI_NETNS\] missing"):
        call({k: v for k, v in ENV.items() if k != "CNI_NETNS"})
    with pytest.raises(CniError, match="unknown CNI_COMMAND"):
        call(ENV | {"CNI_COMMAND": "FOO"})
    with pytest.raises(CniError) as info:
        parse_call(ENV, b"{not json")
    assert info.value.code == 6
    with pytest.raises(CniError) as info:
        call(conf=CONF | {"cniVersion": "9.9.9"})
    assert info.value.code == 1 and "1.1.0" in info.value.details
    assert parse_args("IP=10.242.9.5;MAC=02:00:00:00:00:01") == (
        ("IP", "10.242.9.5"),
        ("MAC", "02:00:00:00:00:01"),
    )


def test_request_sources() -> None:
    c = call(ENV | {"CNI_ARGS": "IP=10.242.9.7;MAC=02:00:00:00:00:07"})
    req = request_of(c)
    assert (str(req.ip), req.mac) == ("10.242.9.7", "02:00:00:00:00:07")
    conf = CONF | {
        "runtimeConfig": {
            "ips": ["10.242.9.8/24"],
            "portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "udp", "hostIP": "10.0.0.1"}
            ],
        }
    }
    req = request_of(call(conf=conf))
    assert str(req.ip) == "10.242.9.8"
    assert [p.key for p in ports_of(conf)] == [("udp", "10.0.0.1", 8080)]


def test_run_answers_in_the_protocol() -> None:
    code, out = run({"CNI_COMMAND": "VERSION"}, b"")
    assert code == 0 and "1.1.0" in out["supportedVersions"]  # type: ignore[index]
    code, out = run(ENV, json.dumps(CONF | {"mtu": 5}).encode())
    assert code == 1 and out == {
        "cniVersion": "1.0.0",
        "code": 7,
        "msg": "invalid MTU 5: outside 68..65535",
    }


MALFORMED = [b'{"a":1,}', b'{"cniVersion": "1.1.0", "name": }', b"[1", b"\xff\xfe{", b"{} x"]


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])
@pytest.mark.parametrize("stdin", MALFORMED, ids=["comma", "value", "open", "bytes", "extra"])
def test_malformed_configuration_is_a_decode_failure(command: str, stdin: bytes) -> None:
    """CNI spec: code 6 for a configuration that does not decode, on every verb. The start-up
    JSON shim this replaced answered `{"a":1,}` with code 100 and a SystemError."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": "x",
        "CNI_NETNS": "/run/netns/pyt-never-made",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni",
    }
    plugin = str(Path(sys.executable).with_name("pybridge"))
    done = subprocess.run([plugin], input=stdin, capture_output=True, env=env, check=False)
    assert done.returncode == 1, done
    out = json.loads(done.stdout)
    assert out["code"] == 6, out
    assert out["msg"].startswith("decode network configuration: "), out
