"""Volumes and mounts with real runc and busybox: `-v`, `--mount`, `--tmpfs`, `--read-only`,
`--volumes-from`, named and anonymous volumes, copy-up, `rm -v`, and `pyengine volume`, with
Docker's messages and exit codes. Every test's engine is torn down and checked for leftovers
(mounts included) by the fixture."""

import io
import json
import os
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def _mounts_in(engine: EngineEnv, name: str) -> str:
    return engine.ok("exec", name, "cat", "/proc/mounts")


def test_bind_mounts_both_ways_and_v_makes_the_host_directory(
    engine: EngineEnv, tmp_path: Path
) -> None:
    host = tmp_path / "made" / "by-v"
    out = engine.ok("run", "--rm", "-v", f"{host}:/data", "busybox", "sh", "-c",
                    "echo from-inside > /data/f; cat /data/f")  # fmt: skip
    assert out == "from-inside\n"
    assert (host / "f").read_text() == "from-inside\n"
    (host / "g").write_text("from-host\n")
    ro = engine("run", "--rm", "--mount", f"type=bind,source={host},target=/d,readonly",
                "busybox", "sh", "-c", "cat /d/g; touch /d/h")  # fmt: skip
    assert (ro.returncode, ro.stdout) == (1, "from-host\n")
    assert "Read-only file system" in ro.stderr and not (host / "h").exists()
    # --mount refuses a missing source at create, as Docker: exit 125 and nothing created.
    done = engine("create", "--mount", f"type=bind,source={tmp_path}/nope,target=/x", "busybox")
    assert done.returncode == 125
    assert f"bind source path does not exist: {tmp_path}/nope" in done.stderr
    assert engine.ok("ps", "-aq") == "" and not (tmp_path / "nope").exists()


def test_named_volume_outlives_its_containers_and_is_refused_while_used(
    engine: EngineEnv,
) -> None:
    assert engine.ok("volume", "create", "--label", "tier=db", "dbdata") == "dbdata\n"
    engine.ok("run", "--rm", "-v", "dbdata:/var/lib/db", "busybox", "sh", "-c",
              "echo kept > /var/lib/db/row")  # fmt: skip
    ro = engine("run", "--rm", "-v", "dbdata:/db:ro", "busybox", "sh", "-c",
                "cat /db/row; echo x > /db/other")  # fmt: skip
    assert ro.returncode == 1 and ro.stdout == "kept\n" and "Read-only file system" in ro.stderr
    [info] = json.loads(engine.ok("volume", "inspect", "dbdata"))
    assert info["Name"] == "dbdata" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"tier": "db"}
    assert info["Mountpoint"] == str(engine.root / "volumes" / "dbdata" / "_data")
    assert Path(info["Mountpoint"], "row").read_text() == "kept\n"
    cid = engine.ok("create", "--name", "user", "-v", "dbdata:/db", "busybox").strip()
    [mount] = engine.inspect("user")["Mounts"]
    assert (mount["Type"], mount["Name"], mount["Destination"], mount["RW"]) == (
        "volume", "dbdata", "/db", True)  # fmt: skip
    refused = engine("volume", "rm", "dbdata")
    assert refused.returncode == 1
    assert f"remove dbdata: volume is in use - [{cid}]" in refused.stderr
    assert engine("volume", "prune", "-f").returncode == 0
    assert engine.ok("volume", "ls", "-q") == "dbdata\n"  # prune kept the used one
    engine.ok("rm", "user")
    assert engine.ok("volume", "rm", "dbdata") == "dbdata\n"
    assert engine.ok("volume", "ls", "-q") == ""
    missing = engine("volume", "inspect", "dbdata")
    assert missing.returncode == 1 and "Error: No such volume: dbdata" in missing.stderr


def test_a_new_volume_gets_the_image_content_unless_nocopy(engine: EngineEnv) -> None:
    image_passwd = engine.ok("run", "--rm", "busybox", "cat", "/etc/passwd")
    out = engine.ok("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd")
    assert out == image_passwd
    data = engine.root / "volumes" / "etcvol" / "_data"
    assert (data / "passwd").read_text() == image_passwd
    # Not empty any more: a second container's image content does not overwrite it.
    (data / "passwd").write_text("changed\n")
    assert engine.ok("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd") == (
        "changed\n"
    )
    engine.ok("run", "--rm", "-v", "bare:/etc:nocopy", "busybox", "true")
    assert os.listdir(engine.root / "volumes" / "bare" / "_data") == []


def test_anonymous_volumes_go_with_rm_v_and_with_rm_flag(engine: EngineEnv) -> None:
    cid = engine.ok("create", "-v", "/scratch", "busybox").strip()
    [name] = engine.ok("volume", "ls", "-q").split()
    assert len(name) == 64
    assert engine.inspect(cid)["Config"]["Volumes"] == {"/scratch": {}}
    engine.ok("rm", cid)  # without -v: kept, as Docker
    assert engine.ok("volume", "ls", "-q").split() == [name]
    engine.ok("volume", "rm", name)
    cid = engine.ok("create", "-v", "/scratch", "-v", "keepme:/named", "busybox").strip()
    engine.ok("rm", "-v", cid)
    assert engine.ok("volume", "ls", "-q").split() == ["keepme"]  # named ones stay
    engine.ok("run", "--rm", "-v", "/tmp/anon", "busybox", "true")
    assert engine.ok("volume", "ls", "-q").split() == ["keepme"]


def test_tmpfs_read_only_root_and_volumes_from(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "box", "--read-only", "--tmpfs", "/run:size=1m,exec",
              "--mount", "type=tmpfs,target=/scratch,tmpfs-size=2m,tmpfs-mode=1770",
              "-v", "shared:/shared", "busybox", "sleep", "300")  # fmt: skip
    mounts = _mounts_in(engine, "box")
    run_line = next(line for line in mounts.splitlines() if " /run " in line)
    assert "tmpfs" in run_line and "size=1024k" in run_line and "noexec" not in run_line
    scratch = next(line for line in mounts.splitlines() if " /scratch " in line)
    assert "size=2048k" in scratch and "mode=1770" in scratch and "noexec" in scratch
    denied = engine("exec", "box", "touch", "/rootfile")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    engine.ok("exec", "box", "sh", "-c", "echo via-box > /shared/f; touch /run/ok /scratch/ok")
    out = engine.ok("run", "--rm", "--volumes-from", "box:ro", "busybox", "sh", "-c",
                    "cat /shared/f; grep ' /shared ' /proc/mounts")  # fmt: skip
    assert out.startswith("via-box\n") and " ro," in out
    host = engine.inspect("box")["HostConfig"]
    assert host["ReadonlyRootfs"] is True and host["Tmpfs"] == {"/run": "size=1m,exec"}
    assert host["Binds"] == ["shared:/shared"]


def test_volume_with_driver_options_is_a_mount_until_removed(engine: EngineEnv) -> None:
    engine.ok("volume", "create", "-o", "type=tmpfs", "-o", "o=size=1m", "ram")
    out = engine.ok("run", "--rm", "-v", "ram:/ram", "busybox", "sh", "-c",
                    "echo hi > /ram/x; grep ' /ram ' /proc/mounts")  # fmt: skip
    assert "tmpfs" in out and "size=1024k" in out
    mountpoint = engine.root / "volumes" / "ram" / "_data"
    assert os.path.ismount(mountpoint) and (mountpoint / "x").read_text() == "hi\n"
    engine.ok("volume", "rm", "ram")
    assert not mountpoint.exists()
    refused = engine("volume", "create", "-o", "size=1g", "big")
    assert refused.returncode != 0 and 'invalid option key: "size"' in refused.stderr
    assert engine.ok("volume", "ls", "-q") == ""


def test_mount_points_that_escape_the_root_are_refused(engine: EngineEnv, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        link = tarfile.TarInfo("evil")
        link.type, link.linkname = tarfile.SYMTYPE, "../" * 12 + str(outside).lstrip("/")
        tar.addfile(link)
        info = tarfile.TarInfo("bin/true")
        info.size, info.mode = 0, 0o755
        tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "evil.tar"
    archive.write_bytes(layer.getvalue())
    engine.ok("import", str(archive), "evil:1")
    done = engine("run", "--rm", "-v", "evilvol:/evil/x", "evil:1", "/bin/true")
    assert done.returncode == 125
    assert "mount destination /evil/x escapes the container's root" in done.stderr
    assert list(outside.iterdir()) == []  # nothing was made on the host's side
    assert engine.ok("ps", "-aq") == ""


def test_bad_flags_change_nothing(engine: EngineEnv) -> None:
    for args, message in [
        (("-v", "/a:/b:xx"), "invalid mode: xx"),
        (("-v", "a b:/x"), "includes invalid characters for a local volume name"),
        (("--mount", "type=bind,target=/x,foo=1"), "unexpected key 'foo' in 'foo=1'"),
        (("-v", "x1:/d", "--tmpfs", "/d"), "Duplicate mount point: /d"),
        (("--volumes-from", "nosuch"), "No such container: nosuch"),
    ]:
        done = engine("create", *args, "busybox")
        assert done.returncode == 125 and message in done.stderr, (args, done.stderr)
    assert engine.ok("ps", "-aq") == "" and engine.ok("volume", "ls", "-q") == ""


def test_concurrent_creates_and_writers_agree(engine: EngineEnv) -> None:
    def create(_: int) -> subprocess.CompletedProcess[str]:
        return engine("volume", "create", "together")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(create, range(6)))
    assert all(r.returncode == 0 and r.stdout == "together\n" for r in results)
    assert engine.ok("volume", "ls", "-q") == "together\n"

    def write(i: int) -> subprocess.CompletedProcess[str]:
        return engine("run", "--rm", "-v", "together:/t", "busybox", "sh", "-c",
                      f"echo {i} > /t/{i}")  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        writes = list(pool.map(write, range(4)))
    assert all(w.returncode == 0 for w in writes), [w.stderr for w in writes]
    data = engine.root / "volumes" / "together" / "_data"
    assert sorted(os.listdir(data)) == ["0", "1", "2", "3"]
