"""/etc/hosts on user networks (engine/lifecycle/hosts.py): rendering, the peer block, the
in-place rewrite, and the lifecycle's hooks over fake seams."""

import os
from pathlib import Path

import pytest

from engine.containers.flags import RunFlags
from engine.containers.record import ContainerConfig, ContainerRecord, HostConfig
from engine.containers.store import ContainerStore
from engine.lifecycle import hosts
from engine.lifecycle.service import Engine
from tests.support.lifecycle_fakes import FakeImages, FakeNetworks, FakeTasks

A = "a" * 64
B = "b" * 64
C = "c" * 64
HEAD = hosts.LOCALHOST + "10.0.0.2\taaaaaaaaaaaa web\n"


def rec(
    ident: str,
    name: str,
    *,
    network: str = "net",
    status: str = "running",
    ip: str = "",
    pid: int = 7,
) -> ContainerRecord:
    record = ContainerRecord(
        ident, name, float(ord(ident[0])), ContainerConfig("busybox"), HostConfig(network=network)
    )
    return record.with_state(status=status, ip_address=ip, pid=pid)


# rendering -------------------------------------------------------------------------------------


def test_render_user_network_lists_itself_by_name_and_its_peers() -> None:
    text = hosts.render("10.0.0.2", "aaaaaaaaaaaa", "net", "web", [("10.0.0.3", "db", "b" * 12)])
    assert text == (
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "10.0.0.2\taaaaaaaaaaaa web\n"
        "# pyengine: containers on network net\n"
        "10.0.0.3\tdb bbbbbbbbbbbb\n"
        "# pyengine: end\n"
    )


def test_render_default_bridge_has_only_the_hostname() -> None:
    # Docker: no names on the default bridge, not even the container's own.
    text = hosts.render("10.88.0.2", "aaaaaaaaaaaa", "bridge", "web", [("10.88.0.3", "x", "y")])
    assert text == hosts.LOCALHOST + "10.88.0.2\taaaaaaaaaaaa\n"
    assert hosts.render("", "aaaaaaaaaaaa", "none", "web") == hosts.LOCALHOST
    assert not hosts.on_user_network("host") and hosts.on_user_network("mynet")


def test_with_peers_replaces_only_its_block() -> None:
    text = hosts.with_peers(HEAD, "net", [("10.0.0.3", "db", "bbb")])
    user = "1.2.3.4\tadded-by-user\n"
    edited = text + user
    again = hosts.with_peers(edited, "net", [("10.0.0.4", "cache", "ccc")])
    assert again == (
        HEAD
        + "# pyengine: containers on network net\n10.0.0.4\tcache ccc\n# pyengine: end\n"
        + user
    )
    # No peers left: the block goes, the user's line stays.
    assert hosts.with_peers(again, "net", []) == HEAD + user
    # Idempotent, and a file without a block and no peers is left exactly as it is.
    assert hosts.with_peers(again, "net", [("10.0.0.4", "cache", "ccc")]) == again
    assert hosts.with_peers(HEAD, "net", []) == HEAD


def test_with_peers_copes_with_a_cut_block_and_no_final_newline() -> None:
    cut = HEAD + "# pyengine: containers on network net\n10.0.0.9\tghost ggg"
    assert hosts.with_peers(cut, "net", []) == HEAD
    assert hosts.with_peers("1.2.3.4 x", "net", []) == "1.2.3.4 x\n"


# members and liveness ---------------------------------------------------------------------------


def test_members_are_running_or_paused_on_that_network_with_an_address() -> None:
    records = [
        rec(A, "web", ip="10.0.0.2"),
        rec(B, "db", status="paused", ip="10.0.0.3"),
        rec(C, "old", status="exited", ip="10.0.0.4"),
        rec("d" * 64, "other", network="elsewhere", ip="10.1.0.2"),
        rec("e" * 64, "noip"),
        rec("f" * 64, "dead", ip="10.0.0.5", pid=99),
    ]
    found = hosts.members(records, "net", alive=lambda pid: pid != 99)
    assert [r.name for r in found] == ["web", "db"]
    assert [r.name for r in hosts.members(records, "net", leaving=A, alive=bool)] == [
        "db",
        "dead",
    ]
    assert hosts.peer(records[0], "net") == ("10.0.0.2", "web", "a" * 12)


def test_pid_alive() -> None:
    assert hosts.pid_alive(os.getpid())
    assert hosts.pid_alive(0)  # no pid recorded: trust the record
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        # A zombie has no name any more: its exit just has not been handled yet.
        for _ in range(1000):
            if not hosts.pid_alive(pid):
                break
            os.sched_yield()
        assert not hosts.pid_alive(pid)
    finally:
        os.waitpid(pid, 0)
    assert not hosts.pid_alive(pid)


# rewriting in place ------------------------------------------------------------------------------


def test_rewrite_keeps_the_inode_and_never_creates(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("x" * 100 + "\n")
    inode = path.stat().st_ino
    reader = open(path)  # noqa: SIM115 - a bind mount keeps the file open by inode, as this does
    try:
        assert hosts.rewrite(path, lambda _old: "short\n")
        assert path.stat().st_ino == inode
        assert path.read_text() == "short\n"
        reader.seek(0)
        assert reader.read() == "short\n"
        assert not hosts.rewrite(path, lambda old: old)  # unchanged: nothing written
    finally:
        reader.close()
    missing = tmp_path / "gone" / "hosts"
    assert not hosts.rewrite(missing, lambda _old: "x\n")
    assert not missing.parent.exists()


def _store_with(tmp_path: Path, *records: ContainerRecord) -> ContainerStore:
    store = ContainerStore(tmp_path)
    for record in records:
        store.add(record)
        bundle = store.container_dir(record.id) / "bundle"
        bundle.mkdir()
        (bundle / "hosts").write_text(
            hosts.render(record.state.ip_address, record.id[:12], record.host.network, record.name)
        )
    return store


def _hosts(store: ContainerStore, ident: str) -> str:
    return (store.container_dir(ident) / "bundle" / "hosts").read_text()


def test_sync_recomputes_every_file_from_the_records(tmp_path: Path) -> None:
    store = _store_with(
        tmp_path,
        rec(A, "web", ip="10.0.0.2"),
        rec(B, "db", ip="10.0.0.3"),
        rec(C, "off", status="exited", ip="10.0.0.4"),
    )

    def bundle(ident: str) -> Path:
        return store.container_dir(ident) / "bundle"

    # A line left behind by a command that died (for a container long gone) ...
    stale = hosts.with_peers(_hosts(store, A), "net", [("10.0.0.9", "ghost", "g" * 12)])
    (bundle(A) / "hosts").write_text(stale)
    inode = (bundle(A) / "hosts").stat().st_ino
    hosts.sync(store, "net", bundle, alive=bool)
    # ... is gone: the block is rebuilt from the records, not patched.
    assert "ghost" not in _hosts(store, A)
    assert "10.0.0.3\tdb bbbbbbbbbbbb\n" in _hosts(store, A)
    assert "10.0.0.2\tweb aaaaaaaaaaaa\n" in _hosts(store, B)
    assert "web" not in _hosts(store, C)  # not running: its file is not touched
    assert (bundle(A) / "hosts").stat().st_ino == inode

    # `leaving`: a container on its way out whose record still says running.
    hosts.sync(store, "net", bundle, leaving=B, alive=bool)
    assert "db" not in _hosts(store, A)
    # A record that says running for a process that is gone has no line either.
    hosts.sync(store, "net", bundle, alive=lambda pid: False)
    assert hosts.BEGIN not in _hosts(store, A)
    assert (store.dir / ".hosts" / "net" / ".lock").exists()
    assert [r.name for r in store.all()] == ["web", "db", "off"]  # the lock dir is no record


def test_sync_skips_a_missing_file_and_other_networks(tmp_path: Path) -> None:
    store = _store_with(tmp_path, rec(A, "web", ip="10.0.0.2"), rec(B, "db", ip="10.0.0.3"))
    (store.container_dir(B) / "bundle" / "hosts").unlink()

    def bundle(ident: str) -> Path:
        return store.container_dir(ident) / "bundle"

    hosts.sync(store, "net", bundle, alive=bool)
    assert "db" in _hosts(store, A)
    assert not (bundle(B) / "hosts").exists()
    hosts.sync(store, "bridge", bundle, alive=bool)  # no names there, and no lock taken
    assert not (store.dir / ".hosts" / "bridge").exists()


# the lifecycle's hooks ---------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(hosts, "pid_alive", lambda pid: True)  # the fake tasks' pids
    return Engine(
        tmp_path, FakeImages(tmp_path), FakeNetworks(), FakeTasks(), proxy_path="/nonexistent"
    )


def _start(engine: Engine, name: str, network: str = "user") -> ContainerRecord:
    record = engine.create(RunFlags(image="busybox", name=name, network=network, command=("sh",)))
    return engine.start(record.id)


def _file(engine: Engine, record: ContainerRecord) -> str:
    return (engine.bundle_dir(record.id) / "hosts").read_text()


def test_lifecycle_adds_and_removes_lines(engine: Engine) -> None:
    one = _start(engine, "one")
    assert f"{one.state.ip_address}\t{one.id[:12]} one\n" in _file(engine, one)
    assert hosts.BEGIN not in _file(engine, one)
    # The second starts with the first already listed; the first learns of the second.
    two = _start(engine, "two")
    assert f"{one.state.ip_address}\tone {one.id[:12]}\n" in _file(engine, two)
    assert f"{two.state.ip_address}\ttwo {two.id[:12]}\n" in _file(engine, one)
    inode = (engine.bundle_dir(one.id) / "hosts").stat().st_ino

    engine.stop("two")
    assert "two" not in _file(engine, one)
    engine.start("two")
    assert "two" in _file(engine, one)
    # An exit the engine learns of later (the shim's exit command, or a refresh).
    assert isinstance(engine.tasks, FakeTasks)
    engine.tasks.exit(two.id, 1)
    engine.on_exit(two.id)
    assert "two" not in _file(engine, one)
    engine.start("two")
    engine.remove("two", force=True)
    assert "two" not in _file(engine, one)
    assert (engine.bundle_dir(one.id) / "hosts").stat().st_ino == inode


def test_default_bridge_lists_nobody(engine: Engine) -> None:
    one = _start(engine, "one", "bridge")
    two = _start(engine, "two", "bridge")
    assert _file(engine, one) == hosts.LOCALHOST + f"{one.state.ip_address}\t{one.id[:12]}\n"
    assert "one" not in _file(engine, two)
    assert not (engine.store.dir / ".hosts").exists()
