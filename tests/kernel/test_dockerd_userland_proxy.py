"""A real dockerd (Debian's 20.10) with `--userland-proxy-path` pointing at pyproxy.

The module starts its own dockerd (own roots, socket, bridge, cgroup parent, and the containerd
that dockerd spawns itself), imports a busybox image built here from busybox-static (no registry),
publishes an httpd with and without a host IP, fetches the page through 127.0.0.1, and proves the
listening socket belongs to a pyproxy child of that dockerd started with dockerd's argv. The last
test tears everything down and checks the host is exactly as it was (the module fixture's
finalizer does the same on any failure).
"""

import http.client
import ipaddress
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, require, require_binary, require_root
from tests.support import dockerd as dk
from tests.support.hoststate import links
from tests.support.procs import Proc, listening_inodes, socket_owners

pytestmark = [pytest.mark.root, pytest.mark.slow]

CONTAINER_PORT = 8080
APPLETS = ("sh", "httpd", "echo", "cat", "ls", "sleep")
DEBIAN_DOCKER_CLI = "/usr/bin/docker"  # same release as dockerd (a newer CLI may be on PATH)


@dataclass(frozen=True)
class Image:
    tag: str
    page: bytes


@pytest.fixture(scope="module", params=["auto", "standalone"])
def host(request: pytest.FixtureRequest) -> dk.DockerHost:
    """A private dockerd whose proxies run in the given PYPROXY_MODE (auto means shared there)."""
    require_root()
    for name in ("ip", "nft", "iptables-save", "umount", "containerd", "runc"):
        require_binary(name)
    require_binary("containerd-shim-runc-v2")
    dockerd_bin = require_binary("dockerd")
    docker_bin = require_binary("docker")
    if Path(DEBIAN_DOCKER_CLI).is_file():
        docker_bin = DEBIAN_DOCKER_CLI
    require(Path(dk.pyproxy_path()).is_file(), "pyproxy is not installed: run ./scripts/setup")

    daemon = dk.DockerHost(dockerd_bin=dockerd_bin, docker_bin=docker_bin, proxy_mode=request.param)

    def finalize() -> None:
        problems = daemon.teardown()  # idempotent: the last test may have run it already
        assert not problems, "teardown left the host changed:\n" + "\n".join(problems)

    request.addfinalizer(finalize)  # before start(): a half-done start is undone too
    daemon.start()
    return daemon


@pytest.fixture(scope="module")
def image(host: dk.DockerHost) -> Image:
    busybox = require_binary("busybox")
    require(dk.is_static_elf(busybox), f"{busybox} is not static (apt: busybox-static)")
    page = f"pyplumb through pyproxy {secrets.token_hex(8)}\n".encode()
    tar = host.root / "rootfs.tar"
    dk.write_busybox_rootfs(tar, busybox, APPLETS, {"/www/index.html": page})
    tag = "pyplumb-test/busybox-httpd:latest"
    host.docker("import", str(tar), tag)
    tar.unlink()
    return Image(tag, page)


@pytest.fixture
def run_httpd(host: dk.DockerHost, image: Image) -> Iterator[Callable[[str], str]]:
    """Start `httpd` publishing CONTAINER_PORT with the given -p spec; removed afterwards."""
    started: list[str] = []

    def start(publish: str) -> str:
        cid = host.docker(
            "run", "-d", "-p", publish, image.tag,
            "httpd", "-f", "-v", "-p", str(CONTAINER_PORT), "-h", "/www",
        ).strip()  # fmt: skip
        started.append(cid)
        return cid

    yield start
    for cid in started:
        host.docker("rm", "-f", cid, check=False)


def container_ip(host: dk.DockerHost, cid: str) -> str:
    ip = host.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid).strip()
    assert ipaddress.ip_address(ip) in dk.SUBNET, f"container is not on {dk.BRIDGE}: {ip!r}"
    return ip


def fetch(url: str, timeout: float = 15.0) -> bytes:
    """GET url, retrying while httpd in the container is still starting (the proxy then closes
    the accepted connection at once). Environment proxies are ignored."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(url, timeout=5) as response:
                assert response.status == 200
                return bytes(response.read())
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError) as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} not served within {timeout}s: {e!r}") from e
            time.sleep(0.1)


def proxies_for(host: dk.DockerHost, port: int) -> dict[str, tuple[Proc, dict[str, str]]]:
    """dockerd's pyproxy children for host port `port`, by -host-ip."""
    found = {}
    for proc, args in host.proxies():
        if args.get("host-port") == str(port):
            assert args["host-ip"] not in found, f"two proxies for {args['host-ip']}:{port}"
            found[args["host-ip"]] = (proc, args)
    return found


def assert_dockerd_argv(proc: Proc, host: dk.DockerHost, host_ip: str, port: int, ip: str):
    """Exactly the argv of spec section 6, after the (last) pyproxy path: in shared mode the
    stand-in shell runs as `pyproxy -c SCRIPT pyproxy ARGS...`."""
    script = len(proc.argv) - 1 - proc.argv[::-1].index(host.proxy)
    assert list(proc.argv[script + 1 :]) == [
        "-proto", "tcp", "-host-ip", host_ip, "-host-port", str(port),
        "-container-ip", ip, "-container-port", str(CONTAINER_PORT),
    ], proc.argv  # fmt: skip


def assert_listener_owned_by(host: dk.DockerHost, host_ip: str, port: int, pid: int) -> None:
    """The listener is pyproxy's: the process dockerd started and, in shared mode (the default
    under dockerd), the hub it handed the socket to."""
    inodes = listening_inodes(host_ip, port)
    assert len(inodes) == 1, f"expected one listener on {host_ip}:{port}, found {inodes}"
    owners = socket_owners(inodes.pop())
    hubs = {p.pid for p in host.hubs()}
    assert pid in owners, f"{host_ip}:{port} is held by {owners}, not pyproxy {pid}"
    if host.proxy_mode == "standalone":
        assert owners == {pid}, f"{host_ip}:{port} is held by {owners}, not only {pid}"
    else:  # auto: a readiness pipe on fd 3 means dockerd, so the port went to the hub
        assert len(hubs) == 1, f"no shared-mode hub for dockerd's proxies: {hubs}"
        assert owners == {pid} | hubs, f"{host_ip}:{port} is held by {owners}: {pid} + {hubs}"


def assert_gone(host: dk.DockerHost, procs: list[Proc], port: int) -> None:
    """After `docker rm -f`, dockerd has SIGINT'd and reaped its proxies and the port is free."""
    deadline = time.monotonic() + 10
    while any(p.alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in procs if p.alive()], "pyproxy outlived its container"
    assert not proxies_for(host, port)
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.settimeout(5)
        s.connect(("127.0.0.1", port))


def test_dockerd_is_private_and_runs_its_own_containerd(host: dk.DockerHost) -> None:
    assert host.docker("info", "--format", "{{.DockerRootDir}}").strip() == str(host.data_root)
    assert host.docker("network", "inspect", "-f", "{{json .IPAM.Config}}", "bridge").count(
        str(dk.SUBNET)
    ), "the default network does not use our bridge's subnet"
    assert int((host.root / "dockerd.pid").read_text()) == host.proc.pid  # type: ignore[union-attr]
    children = host.children()
    containerd = [p for p in children if Path(p.argv[0]).name == "containerd"]
    assert len(containerd) == 1, f"dockerd did not spawn its own containerd: {children}"
    assert str(host.exec_root) in " ".join(containerd[0].argv), containerd[0].argv
    assert (host.exec_root / "containerd" / "containerd.sock").is_socket()


def test_publish_with_host_ip_is_served_by_pyproxy(
    host: dk.DockerHost, image: Image, run_httpd: Callable[[str], str]
) -> None:
    port = free_port()
    cid = run_httpd(f"127.0.0.1:{port}:{CONTAINER_PORT}")
    ip = container_ip(host, cid)

    assert fetch(f"http://127.0.0.1:{port}/index.html") == image.page

    proxies = proxies_for(host, port)
    assert list(proxies) == ["127.0.0.1"], proxies
    proc, _ = proxies["127.0.0.1"]
    assert_dockerd_argv(proc, host, "127.0.0.1", port, ip)
    assert_listener_owned_by(host, "127.0.0.1", port, proc.pid)
    # With the userland proxy on, dockerd's NAT rules skip 127.0.0.0/8, so the only way in is
    # pyproxy dialling the container from the host side: httpd logs the bridge gateway as peer.
    deadline = time.monotonic() + 5
    while f"{dk.GATEWAY}]:" not in (logs := host.logs(cid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"[::ffff:{dk.GATEWAY}]:" in logs, logs

    host.docker("rm", "-f", cid)
    assert_gone(host, [proc], port)


def test_publish_without_host_ip_starts_v4_and_v6_pyproxies(
    host: dk.DockerHost, image: Image, run_httpd: Callable[[str], str]
) -> None:
    port = dk.free_port_everywhere()
    cid = run_httpd(f"{port}:{CONTAINER_PORT}")
    ip = container_ip(host, cid)

    assert fetch(f"http://127.0.0.1:{port}/") == image.page

    proxies = proxies_for(host, port)
    expected = ["0.0.0.0", "::"] if dk.ipv6_listenable() else ["0.0.0.0"]
    assert sorted(proxies) == expected, proxies
    for host_ip, (proc, _) in proxies.items():
        # The `::` one is aimed at the container's IPv4 address (6-to-4 proxying).
        assert_dockerd_argv(proc, host, host_ip, port, ip)
        assert_listener_owned_by(host, host_ip, port, proc.pid)

    host.docker("rm", "-f", cid)
    assert_gone(host, [proc for proc, _ in proxies.values()], port)


def test_teardown_restores_the_host(host: dk.DockerHost) -> None:
    """Last in the module: stop everything now and check nothing of ours is left."""
    assert host.proc is not None
    seen = list(host.seen.values())  # every dockerd/containerd/shim/pyproxy process seen
    assert host.proc.pid in {p.pid for p in seen}
    problems = host.teardown()
    assert not problems, "\n".join([*problems, "--- dockerd log:", host.log_tail()])
    assert host.proc.returncode == 0, f"dockerd exited {host.proc.returncode} on SIGTERM"
    assert not [str(p) for p in seen if p.alive()]
    assert dk.BRIDGE not in links()
    assert not host.root.exists()
