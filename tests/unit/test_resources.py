"""Privilege and resource flags (engine/containers/resources.py) and what they change in the
OCI config (engine/lifecycle/security.py)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.containers import resources
from engine.containers.errors import InvalidOptionError
from engine.containers.hostopts import CAPABILITIES, host_capabilities
from engine.containers.record import ContainerConfig, ContainerRecord, HostConfig
from engine.lifecycle import security
from engine.runtime import spec


def test_parsers() -> None:
    assert resources.parse_ulimit("nofile=512:1024") == ("RLIMIT_NOFILE", 512, 1024)
    assert resources.parse_ulimit("nproc=64") == ("RLIMIT_NPROC", 64, 64)
    assert resources.parse_device("/dev/null:/dev/x:rw") == ("/dev/null", "/dev/x", "rw")
    assert resources.parse_device("/dev/null:r") == ("/dev/null", "/dev/null", "r")
    assert resources.check_cpuset("0", available=2) == "0"
    assert resources.memory_swap(64, 0) == 128 and resources.memory_swap(64, -1) == -1
    assert resources.no_new_privileges(["no-new-privileges"])
    assert not resources.no_new_privileges(["no-new-privileges:false"])
    assert resources.check_sysctl("net.core.somaxconn=1024", "bridge") == (
        "net.core.somaxconn", "1024")  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: resources.parse_ulimit("bogus=1"), "invalid ulimit type: bogus"),
        (lambda: resources.parse_ulimit("nofile=9:3"), "must be less than or equal"),
        (lambda: resources.check_sysctl("kernel.domainname=x", "bridge"), "is not whitelisted"),
        (lambda: resources.check_sysctl("net.ipv4.ip_forward=1", "host"), "host net namespace"),
        (lambda: resources.check_cpuset("0-4", available=2), "Requested CPUs are not available"),
        (lambda: resources.memory_swap(0, 100), "always set the Memory limit"),
        (lambda: resources.memory_swap(100, 50), "should be larger than memory limit"),
        (lambda: resources.check_namespace_mode("pid", "shareable"), "invalid PID mode"),
        (lambda: resources.parse_device("/dev/null:/x:q"), "invalid device mode: q"),
        (lambda: resources.check_security_opts(["seccomp=/nope.json"]), "opening seccomp"),
    ],
)
def test_refusals(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        call()


def _doc(tmp_path: Path, host: HostConfig) -> dict[str, Any]:
    record = ContainerRecord("c" * 64, "x", 0.0, ContainerConfig("img"), host)
    doc = spec.generate(spec.SpecOptions(rootfs=str(tmp_path)))
    security.apply(doc, record, tmp_path, {"ipc": "/proc/7/ns/ipc"})
    return doc


def test_apply_writes_docker_fields(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/group").write_text("root:x:0:\nstaff:x:50:\n")
    host = HostConfig(
        ulimits=("nproc=64:128",), shm_size=1 << 25, sysctls=("net.core.somaxconn=9",),
        group_add=("staff", "7"), memory_swap=-1, cpu_shares=512, cpuset_cpus="0",
        oom_kill_disable=True, pid_mode="host", ipc_mode="container:abc",
    )  # fmt: skip
    doc = _doc(tmp_path, host)
    assert {"type": "RLIMIT_NPROC", "soft": 64, "hard": 128} in doc["process"]["rlimits"]
    assert doc["process"]["user"]["additionalGids"] == [50, 7]
    assert doc["process"]["noNewPrivileges"] is False  # Docker's default
    assert doc["linux"]["sysctl"] == {"net.core.somaxconn": "9"}
    res = doc["linux"]["resources"]
    assert res["memory"] == {"swap": -1, "disableOOMKiller": True}
    assert res["cpu"] == {"shares": 512, "cpus": "0"}
    kinds = {ns["type"]: ns.get("path") for ns in doc["linux"]["namespaces"]}
    assert "pid" not in kinds and kinds["ipc"] == "/proc/7/ns/ipc"
    shm = next(m for m in doc["mounts"] if m["destination"] == "/dev/shm")
    assert "size=32768k" in shm["options"]


def test_privileged_gets_what_the_engine_has(tmp_path: Path) -> None:
    doc = _doc(tmp_path, HostConfig(privileged=True))
    caps = doc["process"]["capabilities"]["bounding"]
    assert caps == [f"CAP_{c}" for c in host_capabilities()]
    assert set(host_capabilities()) <= set(CAPABILITIES)
    assert doc["linux"]["maskedPaths"] == [] and doc["linux"]["readonlyPaths"] == []
    assert doc["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in doc["linux"]["devices"])
