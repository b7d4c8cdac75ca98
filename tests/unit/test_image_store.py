"""Import, load, lookup, rmi and prune against a store in a temp dir (no root needed)."""

import gzip
import io
import json
import re
from pathlib import Path
from typing import IO, cast

import pytest

from engine.cli.exitcodes import exit_code
from engine.images import api
from engine.images.errors import (
    AmbiguousImageError,
    ImageConflictError,
    ImageNotFoundError,
    InvalidArchiveError,
    InvalidChangeError,
    InvalidReferenceError,
    UnsafeLayerError,
)
from engine.images.importer import import_rootfs
from engine.images.loader import Loaded, load_archive
from engine.images.store import Store
from engine.images.users import ImageUser, mark_used, unmark_used
from tests.support.images import (
    ImageSpec,
    RecordingWhiteouts,
    directory,
    docker_save,
    file,
    layer_tar,
    leftovers,
    oci_layout,
    sha256,
    symlink,
)

BASE = layer_tar([directory("etc"), file("etc/os-release", "ID=test\n"), file("bin/app", "v1")])
TOP = layer_tar([file("bin/app", "v2"), file("etc/.wh.os-release"), file("srv/data", "d")])
CONFIG = {
    "Env": ["PATH=/bin", "A=1"],
    "Cmd": ["serve", "--port", "80"],
    "Entrypoint": ["/bin/app"],
    "WorkingDir": "/srv",
    "User": "nobody",
    "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    "StopSignal": "SIGQUIT",
}


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


def load(root: Path, data: bytes) -> list[Loaded]:
    return load_archive(root, io.BytesIO(data), whiteouts=RecordingWhiteouts())


def test_import_rootfs_tags_and_lists(root):
    image_id = import_rootfs(root, io.BytesIO(BASE), "myapp:1.0")
    assert image_id.startswith("sha256:") and len(image_id) == 71
    (image,) = api.list_images(root)
    assert image.id == image_id
    assert image.tags == ("myapp:1.0",)
    assert image.layers == (sha256(BASE),)
    assert image.size == len("ID=test\n") + 2
    assert (Store(root).layer_dir(sha256(BASE)) / "bin/app").read_text() == "v1"
    assert api.find(root, "docker.io/library/myapp:1.0").id == image_id
    assert leftovers(root) == [f"layers/{sha256(BASE)[7:]}", f"imagedb/{image_id[7:]}", "refs"]


def test_import_changes_set_the_config(root):
    image_id = import_rootfs(
        root, io.BytesIO(gzip.compress(BASE)), None,
        changes=['CMD ["sh", "-c", "x"]', "ENV A=1 B=two", "ENV A 3 4", "EXPOSE 80 53/udp",
                 "WORKDIR /srv", "USER 1000:1000", "ENTRYPOINT run me", "LABEL k=v"],
    )  # fmt: skip
    config = api.find(root, image_id).config
    assert config.cmd == ("sh", "-c", "x")
    assert config.env == ("B=two", "A=3 4")
    assert config.exposed_ports == ("53/udp", "80/tcp")
    assert (config.working_dir, config.user) == ("/srv", "1000:1000")
    assert config.entrypoint == ("/bin/sh", "-c", "run me")
    assert config.labels == (("k", "v"),)
    with pytest.raises(InvalidChangeError, match="RUN is not a valid change command"):
        import_rootfs(root, io.BytesIO(BASE), None, changes=["RUN rm -rf /"])


def test_import_of_a_truncated_tarball_changes_nothing(root):
    data = layer_tar([file("a", b"x" * 50_000), file("b", b"y" * 50_000)])
    with pytest.raises(InvalidArchiveError, match="invalid tarball"):
        import_rootfs(root, io.BytesIO(data[:30_000]), "bad:1")
    assert leftovers(root) == []


def test_import_with_a_bad_tag_reads_nothing(root):
    with pytest.raises(InvalidReferenceError):
        import_rootfs(root, io.BytesIO(b"never read"), "Bad:Tag")
    assert not root.exists()


@pytest.mark.parametrize("gzip_layers", [False, True])
def test_docker_save_archive_keeps_config_and_layers(root, gzip_layers):
    spec = ImageSpec([BASE, TOP], CONFIG, ["example/web:2", "web:latest"], gzip_layers)
    (loaded,) = load(root, docker_save([spec]))
    assert loaded.tags == ("example/web:2", "web:latest")
    assert loaded.image_id == sha256(spec.blob())
    image = api.find(root, "web")
    assert image.id == loaded.image_id
    assert image.layers == (sha256(BASE), sha256(TOP))
    config = image.config
    assert config.env == ("PATH=/bin", "A=1")
    assert config.cmd == ("serve", "--port", "80")
    assert config.entrypoint == ("/bin/app",)
    assert (config.working_dir, config.user, config.stop_signal) == ("/srv", "nobody", "SIGQUIT")
    assert config.exposed_ports == ("53/udp", "80/tcp")
    assert image.created is not None and image.created.year == 2024


@pytest.mark.parametrize("nested", [False, True])
def test_oci_layout_archive(root, nested):
    spec = ImageSpec([BASE, TOP], CONFIG, ["ghcr.io/acme/tool:v3"], gzip_layers=True)
    (loaded,) = load(root, oci_layout([spec], nested_index=nested))
    assert loaded.tags == ("ghcr.io/acme/tool:v3",)
    assert api.find(root, "ghcr.io/acme/tool:v3").config.cmd == ("serve", "--port", "80")


def test_untagged_oci_image_loads_by_id(root):
    spec = ImageSpec([BASE])
    (loaded,) = load(root, oci_layout([spec]))
    assert loaded.tags == ()
    assert api.find(root, loaded.image_id[7:19]).id == loaded.image_id


def test_compressed_archive_from_a_pipe(root):
    data = gzip.compress(docker_save([ImageSpec([BASE], tags=["piped:1"])]))

    class Pipe(io.RawIOBase):  # not seekable, no fileno: like stdin from a pipe
        def __init__(self) -> None:
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self.data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    (loaded,) = load_archive(root, cast(IO[bytes], Pipe()))
    assert loaded.tags == ("piped:1",)
    assert list((root / "images/tmp").iterdir()) == []


def test_layers_are_shared_between_images(root):
    load(root, docker_save([ImageSpec([BASE], tags=["a:1"]), ImageSpec([BASE, TOP], tags=["b:1"])]))
    assert sorted(p.name for p in (root / "images/layers").iterdir()) == sorted(
        [sha256(BASE)[7:], sha256(TOP)[7:]]
    )


def test_load_replaces_a_tag_and_reports_it(root):
    (first,) = load(root, docker_save([ImageSpec([BASE], tags=["app:1"])]))
    (second,) = load(root, docker_save([ImageSpec([TOP], tags=["app:1"])]))
    assert second.displaced == (("app:1", first.image_id),)
    assert api.find(root, first.image_id).tags == ()


def _big_archive() -> bytes:
    big = layer_tar([file("blob", bytes(range(256)) * 400)])
    return docker_save([ImageSpec([BASE, big], tags=["x:1"])])


@pytest.mark.parametrize(
    ("archive", "match"),
    [
        (docker_save([], extra={}), r"no image|manifest"),  # an empty manifest list loads nothing
        (layer_tar([file("readme", "just a tar")]), "neither manifest.json"),
        (b"not an archive at all" * 100, "invalid archive"),
        (_big_archive()[:60_000], "invalid"),
    ],
    ids=["empty-manifest", "no-manifest", "garbage", "truncated"],
)
def test_bad_archives_change_nothing(root, archive, match):
    try:
        loaded = load(root, archive)
    except InvalidArchiveError as exc:
        assert exit_code(exc) == 1  # every image command's refusal, as docker's
        assert re.search(match, str(exc))
    else:
        assert loaded == []
    assert leftovers(root) == []


def test_wrong_diff_id_changes_nothing(root):
    spec = ImageSpec([BASE, TOP], tags=["x:1"])
    good = spec.blob()
    doc = json.loads(good)
    doc["rootfs"]["diff_ids"][1] = sha256(b"something else")
    spec.blob = lambda: json.dumps(doc).encode()  # type: ignore[method-assign]
    with pytest.raises(InvalidArchiveError, match="does not match"):
        load(root, docker_save([spec]))
    assert leftovers(root) == []


def test_missing_layer_file_changes_nothing(root):
    spec = ImageSpec([BASE], tags=["x:1"])
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["../../etc/passwd"]}]
    data = docker_save(
        [], extra={"manifest.json": json.dumps(manifest).encode(), "c.json": spec.blob()}
    )
    with pytest.raises(InvalidArchiveError, match="missing"):
        load(root, data)
    assert leftovers(root) == []


def test_layer_escape_in_an_archive_changes_nothing(root, tmp_path):
    evil = layer_tar([symlink("etc", "/etc"), file("etc/cron.d/evil", "* * * * * root sh")])
    with pytest.raises(UnsafeLayerError):
        load(root, docker_save([ImageSpec([BASE, evil], tags=["evil:1"])]))
    assert leftovers(root) == []


def test_lookup_by_id_prefix_and_errors(root):
    (a,) = load(root, docker_save([ImageSpec([BASE], tags=["a:1"])]))
    assert api.find(root, a.image_id).id == a.image_id
    assert api.find(root, a.image_id[7:]).id == a.image_id
    assert api.find(root, a.image_id[:15]).id == a.image_id
    with pytest.raises(ImageNotFoundError, match="No such image: nosuch") as info:
        api.find(root, "nosuch")
    assert exit_code(info.value) == 1
    with pytest.raises(ImageNotFoundError):
        api.find(root, "sha256:" + "0" * 64)
    with pytest.raises(InvalidReferenceError):
        api.find(root, "Not/Valid")


def test_ambiguous_prefix(root):
    ids = [i.image_id for i in load(root, docker_save([ImageSpec([x]) for x in (BASE, TOP)]))]
    ids += [i.image_id for i in load(root, docker_save([ImageSpec([BASE], {"Cmd": [str(n)]})
                                                       for n in range(20)]))]  # fmt: skip
    # 22 ids over 16 first hex digits: two must share one
    shared = next(c for c in "0123456789abcdef" if sum(i[7] == c for i in ids) > 1)
    with pytest.raises(AmbiguousImageError):
        api.find(root, shared)


def test_rmi_untags_then_deletes(root):
    (a,) = load(root, docker_save([ImageSpec([BASE, TOP], tags=["a:1", "b:1"])]))
    assert api.remove(root, "a:1").lines() == ["Untagged: a:1"]
    done = api.remove(root, "b:1")
    assert done.untagged == ("b:1",)
    assert done.deleted == (a.image_id, sha256(TOP), sha256(BASE))
    assert leftovers(root) == []


def test_rmi_by_id_with_tags_in_two_repositories_needs_force(root):
    (a,) = load(root, docker_save([ImageSpec([BASE], tags=["a:1", "b:1"])]))
    with pytest.raises(ImageConflictError, match="referenced in multiple repositories"):
        api.remove(root, a.image_id[7:19])
    assert api.remove(root, a.image_id[7:19], force=True).untagged == ("a:1", "b:1")


def test_rmi_of_an_image_in_use(root):
    (a,) = load(root, docker_save([ImageSpec([BASE], tags=["a:1"])]))
    mark_used(root, a.image_id, "c0ffee")
    with pytest.raises(ImageConflictError, match="container c0ffee is using"):
        api.remove(root, "a:1")
    with pytest.raises(ImageConflictError, match="stopped container c0ffee"):
        api.remove(root, a.image_id)
    assert api.find(root, "a:1").id == a.image_id

    class Running:
        def users(self, image_id):
            return [ImageUser("c0ffee", running=True)]

    with pytest.raises(ImageConflictError, match="cannot be forced"):
        api.remove(root, "a:1", force=True, users=Running())
    unmark_used(root, "c0ffee")
    assert api.remove(root, "a:1").deleted[0] == a.image_id


def test_prune_keeps_tagged_and_used_images(root):
    loaded = load(root, docker_save([ImageSpec([BASE], tags=["keep:1"]), ImageSpec([TOP])]))
    dangling = loaded[1].image_id
    assert api.prune(root).deleted == (dangling, sha256(TOP))
    mark_used(root, loaded[0].image_id, "c1")
    assert api.prune(root, all_images=True).deleted == ()
    unmark_used(root, "c1")
    assert api.prune(root, all_images=True).untagged == ("keep:1",)
    assert leftovers(root) == []


def test_stale_staging_of_dead_processes_is_removed(root):
    stale = root / "images/tmp/999999999-abc"
    stale.mkdir(parents=True)
    (stale / "junk").write_text("x")
    import_rootfs(root, io.BytesIO(BASE))
    assert not stale.exists()
