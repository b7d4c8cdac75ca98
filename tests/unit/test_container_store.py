"""Container records: round trip, lookups as Docker does them, one name per container."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.containers.ports import parse_publish
from engine.containers.record import ContainerConfig, ContainerRecord, HostConfig
from engine.containers.restart import parse_restart
from engine.containers.store import ContainerStore


def record(ident: str, name: str, created: float = 1.0) -> ContainerRecord:
    return ContainerRecord(
        id=ident,
        name=name,
        created=created,
        config=ContainerConfig(image="busybox", cmd=("httpd", "-f"), env=("A=1",)),
        host=HostConfig(
            ports=tuple(parse_publish("127.0.0.1:8080-8081:80-81/udp")),
            restart=parse_restart("on-failure:3"),
        ),
    )


def test_records_round_trip_through_disk(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    original = record("ab" * 32, "web")
    with store.locked():
        store.add(original)
    assert store.find("web") == original
    changed = original.with_state(status="running", pid=42, started_at=5.0)
    store.write(changed)
    assert store.reload(original) == changed
    assert not list(store.container_dir(original.id).glob("*.tmp"))


def test_lookup_by_id_name_and_prefix(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    with store.locked():
        store.add(record("abc1" + "0" * 60, "one", 1.0))
        store.add(record("abc2" + "0" * 60, "two", 2.0))
    assert store.find("/two").name == "two"
    assert store.find("abc1").name == "one"
    assert [r.name for r in store.all()] == ["one", "two"]
    with pytest.raises(ConflictError, match="Multiple IDs found with provided prefix: abc"):
        store.find("abc")
    with pytest.raises(NoSuchContainerError, match="No such container: nope"):
        store.find("nope")
    store.remove("abc1" + "0" * 60)
    store.remove("abc1" + "0" * 60)
    with pytest.raises(NoSuchContainerError):
        store.find("one")


def test_a_taken_name_is_refused_and_the_first_container_untouched(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    first = record("1" * 64, "web")
    with store.locked():
        store.add(first)
        with pytest.raises(ConflictError, match='name "/web" is already in use by container "1'):
            store.add(record("2" * 64, "web"))
    assert [r.id for r in store.all()] == [first.id]


def test_concurrent_processes_never_share_a_name(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from engine.containers.errors import ConflictError
        from engine.containers.names import new_id
        from engine.containers.record import ContainerConfig, ContainerRecord
        from engine.containers.store import ContainerStore
        store = ContainerStore(Path({str(tmp_path)!r}))
        with store.locked():
            try:
                store.add(ContainerRecord(new_id(), "same", 1.0, ContainerConfig("busybox")))
            except ConflictError:
                sys.exit(3)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(8)]
    codes = sorted(p.wait(timeout=60) for p in procs)
    assert codes == [0] + [3] * 7
    assert len(ContainerStore(tmp_path).all()) == 1


def test_a_lock_taken_during_removal_does_not_bring_the_directory_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ps` or a late exit command may open the container's `.lock` (O_CREAT) while `rm`
    deletes its files: the directory must still be gone afterwards, and listings never show
    a removal in progress."""
    import shutil

    from netns.flock import flocked

    store = ContainerStore(tmp_path)
    with store.locked():
        store.add(record("a" * 64, "gone"))
    where = store.container_dir("a" * 64)
    real_rmtree = shutil.rmtree
    seen: list[bool] = []

    def racing_rmtree(path: Path, ignore_errors: bool = False) -> None:
        with flocked(where / ".lock", wait=False) as held:  # what `ps` does meanwhile
            seen.append(held)
        assert store.all() == []  # the trash holds the record now: not listed
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(shutil, "rmtree", racing_rmtree)
    store.remove("a" * 64)
    assert seen == [False]
    assert not where.exists()
    assert [p.name for p in store.dir.iterdir()] == [".lock"]


def test_a_creation_killed_midway_leaves_nothing_listed_and_is_swept(tmp_path: Path) -> None:
    """The record is made in `.new-<id>` and renamed into place: a creator killed before the
    rename leaves only that hidden directory, which no listing shows and the next add sweeps."""
    store = ContainerStore(tmp_path)
    left = store.dir / f".new-{'c' * 64}"
    left.mkdir(parents=True)
    (left / "record.tmp").write_text("{")  # what a kill during the write leaves
    assert store.all() == []
    with store.locked():
        store.add(record("d" * 64, "next"))
    assert sorted(p.name for p in store.dir.iterdir()) == [".lock", "d" * 64]
    assert [r.name for r in store.all()] == ["next"]
