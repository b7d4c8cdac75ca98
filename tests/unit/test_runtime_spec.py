"""The config.json generator and the named-runtime table."""

import pytest

from engine.runtime.errors import RuntimeNotAvailableError
from engine.runtime.registry import RuntimeConfig, Runtimes, parse_add_runtime
from engine.runtime.spec import Hook, SpecError, SpecOptions, generate, process_spec, write_bundle


def test_defaults_are_runc_spec_shaped():
    doc = generate(SpecOptions(rootfs="/r", args=("sh",)))
    assert doc["root"] == {"path": "/r", "readonly": False}
    assert doc["process"]["args"] == ["sh"] and doc["process"]["terminal"] is False
    assert [n["type"] for n in doc["linux"]["namespaces"]] == [
        "pid",
        "network",
        "ipc",
        "uts",
        "mount",
    ]
    assert {m["destination"] for m in doc["mounts"]} >= {"/proc", "/dev", "/dev/pts", "/sys"}
    assert doc["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert doc["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert "hooks" not in doc and "cgroupsPath" not in doc["linux"]


def test_netns_path_cgroups_hooks_limits():
    doc = generate(
        SpecOptions(
            rootfs="/r",
            netns_path="/run/netns/x",
            cgroups_path="/pyengine/c",
            hooks={"poststop": [Hook("/h", ("h", "a"), timeout=5)]},
            memory_limit=1 << 20,
            pids_limit=10,
            rlimits={"RLIMIT_NOFILE": (10, 20)},
            annotations={"k": "v"},
        )
    )
    assert {"type": "network", "path": "/run/netns/x"} in doc["linux"]["namespaces"]
    assert doc["linux"]["cgroupsPath"] == "/pyengine/c"
    assert doc["hooks"] == {"poststop": [{"path": "/h", "args": ["h", "a"], "timeout": 5}]}
    assert doc["linux"]["resources"]["memory"] == {"limit": 1 << 20}
    assert doc["linux"]["resources"]["pids"] == {"limit": 10}
    assert doc["annotations"] == {"k": "v"}
    host = generate(SpecOptions(rootfs="/r", netns_path="host"))
    assert "network" not in [n["type"] for n in host["linux"]["namespaces"]]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rootfs": "rel"}, "absolute"),
        ({"rootfs": "/r", "args": ()}, "empty"),
        ({"rootfs": "/r", "rlimits": {"RLIMIT_NOPE": (1, 1)}}, "unknown rlimit"),
        ({"rootfs": "/r", "rlimits": {"RLIMIT_NOFILE": (5, 1)}}, "soft"),
        ({"rootfs": "/r", "hooks": {"preboot": []}}, "hook kind"),
        ({"rootfs": "/r", "netns_path": "netns/x"}, "absolute"),
        ({"rootfs": "/r", "namespaces": ("time-travel",)}, "namespace"),
    ],
)
def test_invalid_options(kw, match):
    with pytest.raises(SpecError, match=match):
        generate(SpecOptions(**kw))


def test_write_bundle(tmp_path):
    path = write_bundle(tmp_path, SpecOptions(rootfs=str(tmp_path / "rootfs")))
    assert path.name == "config.json" and '"ociVersion"' in path.read_text()
    with pytest.raises(SpecError, match="does not exist"):
        write_bundle(tmp_path / "nope", SpecOptions(rootfs="/r"))


def test_process_spec():
    assert process_spec(["ls"], cwd="/tmp")["cwd"] == "/tmp"
    with pytest.raises(SpecError):
        process_spec([])


def test_named_runtimes(tmp_path):
    exe = tmp_path / "myrt"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    table = Runtimes.build([f"mine={exe}"], {"dbg": {"path": str(exe), "runtimeArgs": ["--debug"]}})
    assert table.get().name == "runc"
    assert table.get("mine").resolve() == str(exe)
    client = table.get("dbg").client(root="/r")
    assert client.argv("list")[:2] == [str(exe), "--debug"]
    with pytest.raises(RuntimeNotAvailableError, match="unknown runtime"):
        table.get("nope")
    with pytest.raises(RuntimeNotAvailableError):
        RuntimeConfig("gone", "/nonexistent/rt").resolve()
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_add_runtime("justaname")
