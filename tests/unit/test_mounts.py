"""`-v`, `--mount` and `--tmpfs` parsing (engine/containers/mounts.py), resolving mount points
inside a root (engine/lifecycle/mountpoints.py) and the volume store on a plain directory."""

import json
import os
from pathlib import Path

import pytest

from engine.containers import mounts
from engine.containers.errors import InvalidOptionError
from engine.containers.flags import ImageDefaults, RunFlags
from engine.containers.mounts import (
    MountSpec,
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
)
from engine.containers.record import (
    ContainerConfig,
    ContainerRecord,
    HostConfig,
    from_json,
    to_json,
)
from engine.containers.request import build_request
from engine.lifecycle.mountpoints import EscapingMountError, prepare, resolve_in_root
from engine.lifecycle.volumes import VolumeView, volume_matches
from engine.volumes.copyup import copy_up
from engine.volumes.errors import InvalidVolumeError, NoSuchVolumeError
from engine.volumes.store import VolumeStore


def test_volume_flag_forms() -> None:
    assert parse_volume_flag("/data") == MountSpec("volume", "/data")
    assert parse_volume_flag("cache:/var/cache:ro") == MountSpec(
        "volume", "/var/cache", "cache", readonly=True
    )
    assert parse_volume_flag("/srv/x:/x:ro,rslave,Z") == MountSpec(
        "bind", "/x", "/srv/x", True, propagation="rslave"
    )
    assert parse_volume_flag("vol:/d:nocopy").nocopy
    assert parse_volume_flag("/a/:/b/").target == "/b"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        ("", "invalid volume specification: ''"),
        ("/a:/b:xx", "invalid mode: xx"),
        ("/a:rel", "mount path must be absolute"),
        ("/a:/", "destination can't be '/'"),
        ("a b:/x", "includes invalid characters for a local volume name"),
        ("/a:/b:nocopy", "invalid mode: nocopy"),
        ("vol:/b:rshared", "invalid mode: rshared"),
    ],
)
def test_volume_flag_refusals(raw: str, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message.replace("(", r"\(")):
        parse_volume_flag(raw)


def test_mount_flag_forms() -> None:
    bind = parse_mount_flag("type=bind,src=/srv,dst=/srv,readonly,bind-propagation=rshared")
    assert (bind.type, bind.source, bind.target, bind.readonly, bind.propagation) == (
        "bind", "/srv", "/srv", True, "rshared")  # fmt: skip
    assert bind.origin == mounts.FROM_MOUNT_FLAG
    volume = parse_mount_flag("target=/d,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs")
    assert (volume.type, volume.source, volume.nocopy) == ("volume", "", True)
    assert (volume.volume_labels, volume.volume_options) == (("a=b",), ("type=tmpfs",))
    tmpfs = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770,readonly=false")
    assert (tmpfs.tmpfs_size, tmpfs.tmpfs_mode, tmpfs.readonly) == (1 << 20, 0o1770, False)
    # CSV quoting, as Docker's reader: a comma inside a path.
    assert parse_mount_flag('type=bind,"source=/a,b",target=/c').source == "/a,b"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("type=bind,target=/x,foo=1", "unexpected key 'foo' in 'foo=1'"),
        ("type=nfs,target=/x", "invalid mount type: nfs"),
        ("type=bind,target=/x", "field Source must not be empty"),
        ("type=volume", "field Target must not be empty"),
        ("type=tmpfs,source=x,target=/x", "field Source must not be specified"),
        ("type=bind,source=/a,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-size'"),
        ("type=tmpfs,target=/x,volume-nocopy", "cannot mix 'volume-nocopy'"),
        ("type=volume,target=/x,volume-driver=nfs", 'plugin "nfs" not found'),
        ("type=bind,source=/a,target=/x,bind-propagation=up", "invalid propagation mode: up"),
        ("type=volume,target=/x,readonly=maybe", "invalid value for readonly: maybe"),
    ],
)
def test_mount_flag_refusals(raw: str, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        parse_mount_flag(raw)


def test_tmpfs_flag_and_duplicates() -> None:
    assert parse_tmpfs_flag("/run:size=64m,exec").tmpfs_options == ("size=64m", "exec")
    with pytest.raises(InvalidOptionError, match="Duplicate mount point: /d"):
        mounts.parse_all(["vol:/d"], ["type=tmpfs,target=/d"], [])


def test_image_volumes_become_anonymous_unless_mounted() -> None:
    image = ImageDefaults(cmd=("true",), volumes=("/data", "/cache/"))
    request = build_request(RunFlags("img", volumes=("named:/data",)), image)
    by_target = {m.target: m for m in request.host.mounts}
    assert by_target["/data"].source == "named"
    assert by_target["/cache"].source == "" and by_target["/cache"].origin == mounts.FROM_IMAGE
    with pytest.raises(InvalidOptionError, match="invalid mode: rx"):
        build_request(RunFlags("img", volumes_from=("other:rx",)), image)


def test_mounts_survive_the_record() -> None:
    specs = (parse_volume_flag("vol:/d:ro"), parse_tmpfs_flag("/t:size=1m"))
    record = ContainerRecord("i" * 64, "n", 0.0, ContainerConfig("img"), HostConfig(mounts=specs))
    assert from_json(json.loads(json.dumps(to_json(record)))).host.mounts == specs


def test_resolve_in_root_follows_links_inside_and_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    os.symlink("/run", root / "var" / "run")  # absolute: the container's /run
    os.symlink("../run", root / "var" / "lnk")
    os.symlink("../../../../etc", root / "evil")
    os.symlink("loop", root / "loop")
    assert resolve_in_root(root, "/var/run/docker.sock") == root / "run" / "docker.sock"
    assert resolve_in_root(root, "/var/lnk/x") == root / "run" / "x"
    assert resolve_in_root(root, "/new/dir") == root / "new" / "dir"
    with pytest.raises(EscapingMountError, match="escapes the container's root"):
        resolve_in_root(root, "/evil/passwd")
    with pytest.raises(InvalidOptionError, match="too many levels of symlinks"):
        resolve_in_root(root, "/loop/x")


def test_store_create_get_list_delete(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path)
    with store.locked():
        made, new = store.ensure("data", labels=("a=1",), options=("type=tmpfs",))
        again, new_again = store.ensure("data", labels=("b=2",))
    assert new and not new_again and again == made  # an existing volume is returned as it is
    assert made.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
    assert os.stat(tmp_path / "volumes").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "volumes" / "data" / "volume.json").st_mode & 0o777 == 0o600
    assert [v.name for v in store.all()] == ["data"]
    with pytest.raises(InvalidVolumeError, match='invalid option key: "size"'):
        store.ensure("other", options=("size=1g",))
    with pytest.raises(InvalidVolumeError, match="invalid characters"):
        store.ensure("-bad")
    assert [v.name for v in store.all()] == ["data"]  # refusals changed nothing
    with store.locked():
        store.delete("data")
        store.delete("data")  # absence is fine
    with pytest.raises(NoSuchVolumeError, match="get data: no such volume"):
        store.get("data")
    assert store.all() == [] and not list((tmp_path / "volumes").glob(".*-*"))


def test_filters(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path)
    with store.locked():
        vol, _ = store.ensure("web-data", labels=("tier=web",))
    used, free = VolumeView(vol, ("c" * 64,)), VolumeView(vol)
    assert volume_matches(used, {"name": ["web"], "label": ["tier=web"], "dangling": ["false"]})
    assert not volume_matches(used, {"dangling": ["true"]})
    assert volume_matches(free, {"dangling": ["1"]})
    assert not volume_matches(free, {"label": ["tier=db"]})
    with pytest.raises(InvalidVolumeError, match="invalid filter 'colour'"):
        volume_matches(free, {"colour": ["red"]})


def test_copy_up_into_an_empty_volume_only(tmp_path: Path) -> None:
    source = tmp_path / "image" / "etc"
    source.mkdir(parents=True)
    (source / "conf").write_text("x")
    os.symlink("/nowhere", source / "dangling")
    os.chmod(source, 0o750)
    data = tmp_path / "vol"
    data.mkdir()
    assert copy_up(source, data)
    assert (data / "conf").read_text() == "x" and os.readlink(data / "dangling") == "/nowhere"
    assert os.stat(data).st_mode & 0o777 == 0o750  # the directory's own mode comes along
    (source / "later").write_text("y")
    assert not copy_up(source, data)  # not empty any more: left alone
    assert not (data / "later").exists()


def test_prepare_orders_parents_first_and_sets_options(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    store = VolumeStore(tmp_path)
    with store.locked():
        store.ensure("vol")
    specs = [
        parse_volume_flag("vol:/data/sub:ro"),
        parse_tmpfs_flag("/data:size=1m,exec"),
        parse_volume_flag(f"{tmp_path}/made-by-v:/srv"),
    ]
    out = prepare(specs, root, store)
    assert [m["destination"] for m in out] == ["/data", "/srv", "/data/sub"]
    assert out[0]["options"] == ["nosuid", "nodev", "size=1m", "exec"]
    assert out[2]["options"] == ["rbind", "ro", "rprivate"]
    assert (tmp_path / "made-by-v").is_dir()  # -v makes a missing host directory
    with pytest.raises(InvalidOptionError, match="bind source path does not exist"):
        prepare([parse_mount_flag(f"type=bind,source={tmp_path}/nope,target=/x")], root, store)
