"""Containers on a user-defined network reach each other by name, through the /etc/hosts the
engine keeps for each of them (engine/lifecycle/hosts.py); on the default bridge names do not
resolve, as in Docker. Real runc, bridges and busybox's resolver (static glibc: /etc/hosts
first, then the DNS servers of resolv.conf)."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture, user_network, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)

BEGIN = "# pyengine: containers on network "


@pytest.fixture
def net(engine: EngineEnv) -> Iterator[str]:
    with user_network(engine, f"pyt-net{engine.n}") as name:
        yield name


def _run(engine: EngineEnv, name: str, network: str) -> tuple[str, str]:
    """A detached `sleep` container: (id, ip)."""
    cid = engine.ok("run", "-d", "--name", name, "--network", network, "busybox", "sleep", "300")
    state = engine.inspect(name)
    assert state["State"]["Running"], state["State"]
    return cid.strip(), str(state["NetworkSettings"]["IPAddress"])


def _hosts_file(engine: EngineEnv, cid: str) -> Path:
    """The host side of the container's /etc/hosts bind mount."""
    return engine.root / "containers" / cid / "bundle" / "hosts"


def _etc_hosts(engine: EngineEnv, name: str) -> str:
    """/etc/hosts as the container reads it."""
    return engine.ok("exec", name, "cat", "/etc/hosts")


def _ping(engine: EngineEnv, src: str, dst: str, wait: int = 2) -> tuple[int, str]:
    done = engine("exec", src, "ping", "-c", "1", "-W", str(wait), dst)
    return done.returncode, done.stdout + done.stderr


def _reaches(engine: EngineEnv, src: str, dst: str, ip: str) -> None:
    code, out = _ping(engine, src, dst)
    assert code == 0, out
    assert f"PING {dst} ({ip})" in out and "1 packets received" in out, out


def test_names_resolve_on_a_user_network(engine: EngineEnv, net: str) -> None:
    alpha, alpha_ip = _run(engine, "alpha", net)
    beta, beta_ip = _run(engine, "beta", net)
    assert alpha_ip != beta_ip and alpha_ip.startswith(engine.user_subnet.rsplit(".", 1)[0])

    text = _etc_hosts(engine, "alpha")
    assert f"{beta_ip}\tbeta {beta[:12]}\n" in text, text
    assert f"{alpha_ip}\t{alpha[:12]} alpha\n" in text, text
    _reaches(engine, "alpha", "beta", beta_ip)
    _reaches(engine, "beta", "alpha", alpha_ip)
    _reaches(engine, "alpha", beta[:12], beta_ip)  # the short id, as Docker's DNS answers it
    # Its own name too (only resolution is checked: the reply is the loopback's business).
    assert f"PING alpha ({alpha_ip})" in _ping(engine, "alpha", "alpha", 1)[1]
    # A container started later resolves the others from its very first command.
    done = engine("run", "--rm", "--network", net, "busybox", "ping", "-c", "1", "-W", "2", "beta")
    assert done.returncode == 0 and f"PING beta ({beta_ip})" in done.stdout, done.stderr

    # A stopped container's name goes from the others' files, which stay the same files (a
    # bind mount keeps the inode it was given).
    inode = _hosts_file(engine, alpha).stat().st_ino
    engine.ok("stop", "-t", "1", "beta")
    text = _etc_hosts(engine, "alpha")
    assert "beta" not in text and beta_ip not in text, text
    code, out = _ping(engine, "alpha", "beta", 1)
    assert code != 0 and "bad address 'beta'" in out, out
    assert _hosts_file(engine, alpha).stat().st_ino == inode

    # Back again, at whatever address it now has. (Only the name is checked: an address given
    # back to a new endpoint has a new random MAC, which alpha's neighbour cache learns late.)
    engine.ok("start", "beta")
    beta_ip = engine.inspect("beta")["NetworkSettings"]["IPAddress"]
    assert f"{beta_ip}\tbeta {beta[:12]}\n" in _etc_hosts(engine, "alpha")
    assert f"PING beta ({beta_ip})" in _ping(engine, "alpha", "beta", 1)[1]

    # An exit no command caused: the shim's exit command takes the name away.
    os.kill(engine.state("beta")["Pid"], signal.SIGKILL)
    wait_for(lambda: "beta" not in _hosts_file(engine, alpha).read_text(), 30, "beta's line to go")
    assert "beta" not in _etc_hosts(engine, "alpha")
    assert engine.state("beta")["Status"] == "exited"

    # And removal.
    engine.ok("start", "beta")
    assert "beta" in _etc_hosts(engine, "alpha")
    engine.ok("rm", "-f", "beta")
    assert "beta" not in _etc_hosts(engine, "alpha")
    assert _hosts_file(engine, alpha).stat().st_ino == inode


def test_lines_are_recomputed_not_patched(engine: EngineEnv, net: str) -> None:
    alpha, _ = _run(engine, "alpha", net)
    beta, _ = _run(engine, "beta", net)
    # A line a crashed command could have left, for a container long gone, and a user's own.
    path = _hosts_file(engine, alpha)
    text = path.read_text()
    assert BEGIN in text and "beta" in text
    ghost = text.replace(
        f"beta {beta[:12]}\n", f"beta {beta[:12]}\n10.245.0.99\tghost 0123456789ab\n"
    )
    with open(path, "r+") as f:
        f.write(ghost + "192.0.2.1\tmine\n")
    assert "ghost" in _etc_hosts(engine, "alpha")

    # beta dies with its shim, so no exit command runs and its record still says running.
    pid = engine.state("beta")["Pid"]
    os.kill(engine.shim_pid(beta), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "beta to die")

    # The next change on the network rebuilds every file from the records and the processes.
    gamma, gamma_ip = _run(engine, "gamma", net)
    text = _etc_hosts(engine, "alpha")
    assert f"{gamma_ip}\tgamma {gamma[:12]}\n" in text, text
    assert "ghost" not in text and "beta" not in text, text
    assert "192.0.2.1\tmine\n" in text, text  # lines outside the engine's block are kept
    assert "beta" not in _etc_hosts(engine, "gamma")
    # Once the engine looks at beta, it is exited, and nothing lists it.
    assert engine.state("beta")["Status"] == "exited"
    assert "beta" not in _etc_hosts(engine, "gamma")


def test_concurrent_starts_and_stops_all_end_up_listed(engine: EngineEnv, net: str) -> None:
    names = [f"c{i}x" for i in range(5)]
    procs = [
        engine.popen("run", "-d", "--name", n, "--network", net, "busybox", "sleep", "300")
        for n in names
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    ips = {n: engine.inspect(n)["NetworkSettings"]["IPAddress"] for n in names}
    for n in names:
        text = _etc_hosts(engine, n)
        listed = {line.split()[1] for line in text.split(BEGIN, 1)[-1].splitlines()[1:-1]}
        assert listed == set(names) - {n}, text
        assert all(f"{ips[o]}\t{o} " in text for o in listed), text
    # Stop two at once: nobody lists either afterwards.
    gone = names[:2]
    procs = [engine.popen("stop", "-t", "1", n) for n in gone]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for n in names[2:]:
        text = _etc_hosts(engine, n)
        assert not any(g in text for g in gone), text
        assert all(o in text for o in names[2:]), text


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def test_default_bridge_does_not_resolve_names(engine: EngineEnv) -> None:
    one, _ = _run(engine, "one", "bridge")
    two, two_ip = _run(engine, "two", "bridge")
    text = _etc_hosts(engine, "one")
    assert "two" not in text and two_ip not in text and two[:12] not in text, text
    assert BEGIN not in text
    code, out = _ping(engine, "one", "two", 1)
    assert code != 0 and "bad address 'two'" in out, out
    # The network itself works: by address, two answers.
    code, out = _ping(engine, "one", two_ip)
    assert code == 0 and "1 packets received" in out, out
    assert not (engine.root / "containers" / ".hosts" / "bridge").exists()
    assert one != two
