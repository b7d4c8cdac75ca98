"""Bad input through the shim with real runc: a clear error and nothing left behind."""

import os

import pytest

from engine.runtime.errors import (
    CommandNotExecutableError,
    CommandNotFoundError,
    InvalidContainerIDError,
    OCIRuntimeError,
    RuntimeNotAvailableError,
    container_exit_code,
)
from engine.shimapi.discovery import pid_alive, probe
from engine.shimapi.errors import InvalidArgumentError, ShimUnavailableError, TaskExistsError
from engine.tasks.client import ShimClient
from engine.tasks.spawn import create_task, remove_task
from tests.conftest import require, require_root
from tests.fakes import FAILING_RUNTIME, RUNC_WRAPPER
from tests.support.bundle import cgroup_dirs, mounts_under
from tests.support.shim import RUNC, Sandbox, sandbox, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def box():
    require_root()
    require(os.access(RUNC, os.X_OK), "runc is not installed")
    with sandbox() as b:
        yield b


def assert_nothing_left(box: Sandbox, cid: str) -> None:
    layout = box.layout(cid)
    assert not os.path.exists(layout.state_dir), os.listdir(layout.state_dir)
    assert box.runc_ids() == []
    assert cgroup_dirs(cid) == []
    assert mounts_under(str(box.base)) == []


def test_command_not_found_is_127_and_leaves_nothing(box):
    box.bundle("pyt-nf", ("no-such-command",))
    with pytest.raises(CommandNotFoundError, match="no-such-command") as err:
        create_task(box.config("pyt-nf"))
    assert container_exit_code(err.value) == 127
    assert_nothing_left(box, "pyt-nf")


def test_not_executable_is_126(box):
    box.bundle("pyt-nx", ("/etc",))
    with pytest.raises(CommandNotExecutableError) as err:
        create_task(box.config("pyt-nx"))
    assert container_exit_code(err.value) == 126
    assert_nothing_left(box, "pyt-nx")


def test_duplicate_id_is_refused_and_the_first_is_untouched(box):
    first = box.create("pyt-dup", ("sleep", "100"))
    first.start()
    with pytest.raises(TaskExistsError, match="already exists"):
        create_task(box.config("pyt-dup"))
    assert first.state()["status"] == "running"
    first.kill("KILL")
    first.wait(timeout=20)
    remove_task(first)


@pytest.mark.parametrize("cid", ["a/b", "", "x" * 65, "..", "bad id"])
def test_invalid_id_is_refused_before_anything(box, cid):
    with pytest.raises(InvalidContainerIDError):
        box.config(cid)
    assert not box.run_root.exists()


def test_missing_bundle_rootfs_or_config(box):
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        create_task(box.config("pyt-nob", box.base / "nowhere"))
    bundle = box.bundle("pyt-norootfs")
    os.rename(bundle / "rootfs", bundle / "elsewhere")
    with pytest.raises(InvalidArgumentError, match="rootfs"):
        create_task(box.config("pyt-norootfs"))
    (bundle / "config.json").unlink()
    with pytest.raises(InvalidArgumentError, match=r"no config\.json"):
        create_task(box.config("pyt-norootfs"))
    assert not os.path.exists(box.layout("pyt-nob").state_dir)
    assert not os.path.exists(box.layout("pyt-norootfs").state_dir)


def test_missing_runtime_binary(box):
    box.bundle("pyt-nort")
    with pytest.raises(RuntimeNotAvailableError, match="cannot run"):
        create_task(box.config("pyt-nort", runtime="/nonexistent/runc"))
    assert_nothing_left(box, "pyt-nort")


def test_failing_runtime_passes_its_message_through(box):
    box.bundle("pyt-fail")
    with pytest.raises(OCIRuntimeError, match="hybrid mode not supported") as err:
        create_task(box.config("pyt-fail", runtime=str(FAILING_RUNTIME)))
    assert "create" in str(err.value)
    assert_nothing_left(box, "pyt-fail")


def test_any_runtime_by_path_with_extra_args(box, tmp_path):
    argv_log = tmp_path / "argv"
    os.environ["PYT_RUNTIME_ARGV"] = str(argv_log)
    try:
        client = box.create(
            "pyt-wrap",
            ("sh", "-c", "exit 4"),
            config={"runtime": str(RUNC_WRAPPER), "runtime_args": ("--debug",)},
        )
        client.start()
        assert client.wait(timeout=20).exit_status == 4
        remove_task(client)
    finally:
        del os.environ["PYT_RUNTIME_ARGV"]
    calls = argv_log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["--debug"] * len(calls)
    verbs = [next(w for w in c.split() if w in ("create", "start", "delete")) for c in calls]
    assert verbs == ["create", "start", "delete"]


def test_unknown_shim_is_unavailable(box):
    with pytest.raises(ShimUnavailableError):
        ShimClient(str(box.base / "nope.sock"), cid="pyt-none").state()


def test_bad_log_options_rejected(box):
    box.bundle("pyt-badlog")
    with pytest.raises(InvalidArgumentError):
        box.config("pyt-badlog", log_max_size=0)
    with pytest.raises(InvalidArgumentError):
        box.config("pyt-badlog", log_max_file=0)


def test_runtime_duplicate_is_refused_without_touching_the_other(box):
    # a container of that id exists in the runtime, but no shim knows it
    first = box.create("pyt-other", ("sleep", "100"))
    first.start()
    init = first.state()["pid"]
    first.close()
    os.kill(box.shim_pid("pyt-other"), 9)
    assert wait_for(lambda: not probe(box.layout("pyt-other")))
    with pytest.raises(TaskExistsError, match="dead shim"):
        create_task(box.config("pyt-other"))
    # the runtime's own check holds too: a second runtime state dir can not be created
    os.unlink(box.layout("pyt-other").state("init.pid"))
    with pytest.raises(OCIRuntimeError, match="already exists"):
        create_task(box.config("pyt-other"))
    assert pid_alive(init)
