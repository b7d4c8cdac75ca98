"""Name resolution on user networks: the network's DNS server (engine/dns) on its gateway
answers for containers by name, network alias and short id, and for their addresses (PTR),
forwards everything else to its upstream (dnsmasq on this environment's own loopback
address), forgets containers that stop, comes back if killed, and leaves with the network.
The default bridge keeps Docker's behaviour: no names."""

import os
import signal
import subprocess
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.reversename
import pytest

from tests.conftest import require_binary
from tests.support.engine_cli import EngineEnv, engine_fixture, user_network, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


@pytest.fixture
def upstream(engine: EngineEnv) -> Iterator[str]:
    """dnsmasq on the environment's upstream address: upstream.test is 192.0.2.55."""
    host, port = engine.dns_upstream.split(":")
    proc = subprocess.Popen(
        [require_binary("dnsmasq"), "--keep-in-foreground", "--port", port,
         "--listen-address", host, "--bind-interfaces", "--no-resolv", "--no-hosts",
         "--address=/upstream.test/192.0.2.55", "--address=/upstream.test/2001:db8::55",
         "--pid-file=", "--user=root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(host, int(port)), 10, "dnsmasq to listen")
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(host: str, port: int) -> bool:
    try:
        dns.query.udp(dns.message.make_query("upstream.test", "A"), host, port=port, timeout=0.5)
    except (OSError, dns.exception.Timeout):
        return False
    return True


@pytest.fixture
def net(engine: EngineEnv) -> Iterator[str]:
    with user_network(engine, f"pyt-dns{engine.n}") as name:
        yield name
    wait_for(lambda: not _servers(engine), 10, "the network's DNS server to leave")


def _servers(engine: EngineEnv) -> list[int]:
    return [p.pid for p in engine.processes() if "engine.dns.server" in " ".join(p.argv)]


def _ask(gateway: str, name: str, kind: str = "A", tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, kind)
    if tcp:
        return dns.query.tcp(query, gateway, timeout=5)
    return dns.query.udp(query, gateway, timeout=5)


def _gateway(engine: EngineEnv, name: str) -> str:
    gateway = engine.inspect(name)["NetworkSettings"]["Gateway"]
    assert isinstance(gateway, str) and gateway
    return gateway


def _a(reply: dns.message.Message) -> list[str]:
    return sorted(r.address for rrset in reply.answer for r in rrset)


def test_containers_resolve_by_name_alias_and_short_id(
    engine: EngineEnv, net: str, upstream: str
) -> None:
    network = net
    alpha = engine.ok("run", "-d", "--name", "alpha", "--network", network,
                      "--network-alias", "web", "busybox", "sleep", "300").strip()  # fmt: skip
    engine.ok("run", "-d", "--name", "beta", "--network", network, "busybox", "sleep", "300")
    ip = engine.inspect("alpha")["NetworkSettings"]["IPAddress"]
    gateway = _gateway(engine, "alpha")
    assert engine.ok("exec", "beta", "cat", "/etc/resolv.conf").count(f"nameserver {gateway}") == 1
    for name in ("alpha", "web", alpha[:12], "ALPHA"):
        out = engine.ok("exec", "beta", "nslookup", name)
        assert f"Address: {ip}" in out, (name, out)
    # Straight from the host, UDP and TCP: authoritative A, an empty AAAA, PTR.
    for tcp in (False, True):
        reply = _ask(gateway, "alpha", tcp=tcp)
        assert _a(reply) == [ip] and reply.flags & dns.flags.AA, reply.to_text()
    empty = _ask(gateway, "alpha", "AAAA")
    assert empty.rcode() == dns.rcode.NOERROR and not empty.answer
    ptr = _ask(gateway, dns.reversename.from_address(ip).to_text(), "PTR")
    assert [r.target.to_text() for rrset in ptr.answer for r in rrset] == ["alpha."]
    # Everything else goes upstream, and back unchanged.
    assert _a(_ask(gateway, "upstream.test")) == ["192.0.2.55"]
    assert "Address: 192.0.2.55" in engine.ok("exec", "beta", "nslookup", "upstream.test")
    assert engine("exec", "beta", "nslookup", "nosuch.invalid").returncode != 0


def test_names_follow_the_containers(engine: EngineEnv, net: str) -> None:
    network = net
    engine.ok("run", "-d", "--name", "gamma", "--network", network, "busybox", "sleep", "300")
    gateway = _gateway(engine, "gamma")
    ip = engine.inspect("gamma")["NetworkSettings"]["IPAddress"]
    assert _a(_ask(gateway, "gamma")) == [ip]
    engine.ok("rename", "gamma", "delta")
    assert _a(_ask(gateway, "delta")) == [ip]
    assert _ask(gateway, "gamma").rcode() != dns.rcode.NOERROR or not _ask(gateway, "gamma").answer
    engine.ok("stop", "-t", "0", "delta")
    assert not _ask(gateway, "delta").answer  # stopped: forgotten (here: upstream is silent)


def test_a_killed_server_comes_back_with_the_next_container(engine: EngineEnv, net: str) -> None:
    network = net
    engine.ok("run", "-d", "--name", "one", "--network", network, "busybox", "sleep", "300")
    gateway = _gateway(engine, "one")
    [server] = _servers(engine)
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: not _servers(engine), 10, "the killed server to go")
    engine.ok("run", "-d", "--name", "two", "--network", network, "busybox", "sleep", "300")
    assert len(_servers(engine)) == 1
    assert _a(_ask(gateway, "one")) == [engine.inspect("one")["NetworkSettings"]["IPAddress"]]
    assert "Address:" in engine.ok("exec", "two", "nslookup", "one")


def test_the_default_bridge_has_no_names(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "plain1", "busybox", "sleep", "300")
    engine.ok("run", "-d", "--name", "plain2", "busybox", "sleep", "300")
    assert _servers(engine) == []
    assert engine("exec", "plain2", "nslookup", "plain1").returncode != 0


def test_link_aliases_resolve_for_the_linking_container_only(engine: EngineEnv, net: str) -> None:
    engine.ok("run", "-d", "--name", "target", "--network", net, "busybox", "sleep", "300")
    engine.ok("run", "-d", "--name", "linker", "--network", net, "--link", "target:db",
              "busybox", "sleep", "300")  # fmt: skip
    engine.ok("run", "-d", "--name", "bystander", "--network", net, "busybox", "sleep", "300")
    ip = engine.inspect("target")["NetworkSettings"]["IPAddress"]
    assert f"Address: {ip}" in engine.ok("exec", "linker", "nslookup", "db")
    assert engine("exec", "bystander", "nslookup", "db").returncode != 0
    # From the host (not the linking container's address) the alias is unknown too.
    assert not _ask(_gateway(engine, "linker"), "db").answer
