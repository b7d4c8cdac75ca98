"""--hostname, --add-host, --dns*, --cap-add/--cap-drop with real runc and busybox, and the
same through the API with the docker CLI."""

import pytest

from tests.support.api_service import ApiService, docker_clis, service_fixture
from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
CLIS = docker_clis()


def test_names_and_resolver_files(engine: EngineEnv) -> None:
    out = engine.ok("run", "--rm", "-h", "web.local", "--add-host", "db:10.1.2.3",
                    "--add-host", "gw:host-gateway", "--dns", "10.9.9.9", "--dns-search",
                    "corp.example", "--dns-option", "ndots:2", "busybox", "sh", "-c",
                    "hostname; cat /etc/hosts /etc/resolv.conf")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "web.local"
    gateway = engine.subnet.rsplit(".", 1)[0] + ".1"
    assert "10.1.2.3\tdb" in lines and f"{gateway}\tgw" in lines
    # The add-host lines come before its own, as Docker writes them.
    own = next(i for i, line in enumerate(lines) if line.endswith("\tweb.local"))
    assert lines.index("10.1.2.3\tdb") < own
    assert [ln for ln in lines if ln.startswith("nameserver")] == ["nameserver 10.9.9.9"]
    assert "search corp.example" in lines and "options ndots:2" in lines
    engine.ok("create", "--name", "named", "-h", "box1", "busybox")
    config = engine.inspect("named")
    assert config["Config"]["Hostname"] == "box1"


def test_capabilities_are_added_and_dropped(engine: EngineEnv) -> None:
    out = engine.ok("run", "--rm", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
                    "busybox", "grep", "CapEff", "/proc/self/status")  # fmt: skip
    assert out.split() == ["CapEff:", "0000000000000400"]  # bit 10: NET_BIND_SERVICE alone
    denied = engine("run", "--rm", "--cap-drop", "chown", "busybox", "chown", "1", "/etc/passwd")
    assert denied.returncode == 1 and "Operation not permitted" in denied.stderr
    allowed = engine("run", "--rm", "busybox", "chown", "1", "/etc/passwd")
    assert allowed.returncode == 0, allowed.stderr


def test_bad_values_are_refused_before_anything_is_made(engine: EngineEnv) -> None:
    for args, message in [
        (("--cap-add", "FOO"), 'unknown capability: "FOO"'),
        (("--add-host", "nocolon"), 'bad format for add-host: "nocolon"'),
        (("--add-host", "db:1.2.3"), 'invalid IP address in add-host: "1.2.3"'),
        (("-h", "bad_name"), "invalid hostname format: bad_name"),
        (("--dns", "resolver"), "resolver is not an ip address"),
    ]:
        done = engine("create", *args, "busybox")
        assert done.returncode == 125 and message in done.stderr, (args, done.stderr)
    assert engine.ok("ps", "-aq") == ""


@pytest.mark.parametrize("cli", CLIS)
def test_the_same_through_the_api(service: ApiService, cli: str) -> None:
    out = service.docker_ok("run", "--rm", "-h", "apihost", "--add-host", "db:10.1.2.3",
                            "--dns", "10.9.9.9", "--cap-drop", "ALL", "busybox", "sh", "-c",
                            "hostname; grep db /etc/hosts; grep nameserver /etc/resolv.conf; "
                            "grep CapEff /proc/self/status", cli=cli)  # fmt: skip
    assert out.splitlines() == ["apihost", "10.1.2.3\tdb", "nameserver 10.9.9.9",
                                "CapEff:\t0000000000000000"]  # fmt: skip
    cid = service.docker_ok("create", "--cap-add", "NET_ADMIN", "--add-host", "x:1.1.1.1",
                            "busybox", cli=cli).strip()  # fmt: skip
    host = service.engine.inspect(cid)["HostConfig"]
    # Newer CLIs send the CAP_ spelling, 20.10 the one typed: both are kept as sent.
    assert [c.removeprefix("CAP_") for c in host["CapAdd"]] == ["NET_ADMIN"]
    assert host["ExtraHosts"] == ["x:1.1.1.1"]
    service.docker_ok("rm", cid, cli=cli)


def test_mac_address_and_domainname(engine: EngineEnv) -> None:
    out = engine.ok("run", "--rm", "--mac-address", "02:42:ac:11:00:99", "--domainname",
                    "example.org", "busybox", "sh", "-c",
                    "cat /sys/class/net/eth0/address; cat /proc/sys/kernel/domainname")  # fmt: skip
    assert out.split() == ["02:42:ac:11:00:99", "example.org"]
    for mac in ("zz", "01:00:00:00:00:01"):  # not an address; a multicast one
        done = engine("create", "--mac-address", mac, "busybox")
        assert done.returncode == 125 and f"{mac} is not a valid mac address" in done.stderr
