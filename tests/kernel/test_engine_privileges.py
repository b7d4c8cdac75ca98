"""Privilege and resource flags on a real kernel with runc and busybox, read back from inside
the container and from its cgroups (v1 here)."""

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
CG = "/sys/fs/cgroup"


def test_limits_sysctls_groups_shm(engine: EngineEnv) -> None:
    out = engine.ok("run", "--rm", "--ulimit", "nofile=512:1024", "--shm-size", "32m",
                    "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "42", "busybox", "sh",
                    "-c", "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; "
                    "cat /proc/sys/net/ipv4/ip_forward; id -G")  # fmt: skip
    soft, hard, shm, forward, groups = out.splitlines()
    assert (soft, hard, forward) == ("512", "1024", "1")
    assert shm.split()[1] == "32768" and "42" in groups.split()


def test_cgroup_resources(engine: EngineEnv) -> None:
    files = (f"{CG}/memory/memory.limit_in_bytes {CG}/memory/memory.memsw.limit_in_bytes "
             f"{CG}/cpu/cpu.shares {CG}/cpuset/cpuset.cpus")  # fmt: skip
    out = engine.ok("run", "--rm", "-m", "64m", "--cpu-shares", "512", "--cpuset-cpus", "0",
                    "busybox", "cat", *files.split())  # fmt: skip
    assert out.split() == [str(64 << 20), str(128 << 20), "512", "0"]  # -m alone: swap = 2x
    out = engine.ok("run", "--rm", "-m", "64m", "--memory-swap", "100m", "--oom-kill-disable",
                    "busybox", "sh", "-c", f"cat {CG}/memory/memory.memsw.limit_in_bytes; "
                    f"grep oom_kill_disable {CG}/memory/memory.oom_control")  # fmt: skip
    assert out.split() == [str(100 << 20), "oom_kill_disable", "1"]


def test_namespaces_privileged_devices_and_no_new_privileges(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "owner", "busybox", "sleep", "300")
    shared = engine.ok("run", "--rm", "--pid", "container:owner", "busybox", "ps", "-o", "args")
    assert "sleep 300" in shared
    alone = engine.ok("run", "--rm", "busybox", "ps", "-o", "args")
    assert "sleep 300" not in alone
    host_pid = engine.ok("run", "--rm", "--pid", "host", "busybox", "ps", "-o", "pid")
    assert len(host_pid.splitlines()) > 10  # the host's processes
    with open("/proc/self/status") as f:
        bounding = next(ln.split()[1] for ln in f if ln.startswith("CapBnd:"))
    priv = engine.ok(
        "run", "--rm", "--privileged", "busybox", "grep", "CapEff", "/proc/self/status"
    )
    assert priv.split()[1] == bounding  # all the engine may give
    assert engine.ok("run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c",
                     "echo x > /dev/mynull && echo ok") == "ok\n"  # fmt: skip
    # /dev/mem (1,1) is none of the defaults: its node can be made, not opened.
    denied = engine("run", "--rm", "busybox", "sh", "-c", "mknod /dev/m c 1 1 && head -c1 /dev/m")
    assert denied.returncode != 0 and "Operation not permitted" in denied.stderr
    nnp = "grep NoNewPrivs /proc/self/status"
    assert engine.ok("run", "--rm", "busybox", "sh", "-c", nnp).split()[1] == "0"
    assert engine.ok("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "sh",
                     "-c", nnp).split()[1] == "1"  # fmt: skip


def test_refusals_change_nothing(engine: EngineEnv) -> None:
    for args, message in [
        (("--ulimit", "foo=1"), "invalid ulimit type: foo"),
        (("--sysctl", "kernel.hostname=x"), "is not whitelisted"),
        (("--memory-swap", "10m"), "always set the Memory limit"),
        (("--cpuset-cpus", "0-99"), "Requested CPUs are not available"),
        (("--pid", "bogus"), "invalid PID mode"),
        (("--device", "/dev/nope"), "no such file or directory"),
        (("--security-opt", "foo"), "Invalid --security-opt"),
        (("--group-add", "nosuchgroup"), None),  # found missing at start, not create
    ]:
        done = engine("create", *args, "busybox")
        if message is None:
            continue
        assert done.returncode == 125 and message in done.stderr, (args, done.stderr)
    left = engine.ok("ps", "-aq").split()
    assert len(left) == 1  # the group one: created; its start is what fails
    failed = engine("start", left[0])
    assert failed.returncode != 0 and "Unable to find group nosuchgroup" in failed.stderr


def test_update_changes_a_running_containers_cgroup_and_its_record(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "upd", "-m", "64m", "busybox", "sleep", "300")
    flags = ("-m", "96m", "--cpus", "0.5", "--cpu-shares", "256", "--pids-limit", "50")
    assert engine.ok("update", *flags, "--restart", "on-failure:3", "upd") == "upd\n"
    files = (f"{CG}/memory/memory.limit_in_bytes {CG}/memory/memory.memsw.limit_in_bytes "
             f"{CG}/cpu/cpu.cfs_quota_us {CG}/cpu/cpu.shares {CG}/pids/pids.max")  # fmt: skip
    assert engine.ok("exec", "upd", "cat", *files.split()).split() == [
        str(96 << 20), str(192 << 20), "50000", "256", "50"]  # fmt: skip
    host = engine.inspect("upd")["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (96 << 20, 500_000_000, 50)
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    bad = engine("update", "-m", "1g", "--memory-swap", "512m", "upd")
    assert bad.returncode == 1 and "Minimum memoryswap limit should be larger" in bad.stderr
    missing = engine("update", "-m", "32m", "nosuch")
    assert missing.returncode == 1 and "No such container: nosuch" in missing.stderr
    # The record keeps them: the next start has the same limits.
    engine.ok("restart", "-t", "0", "upd")
    assert engine.ok("exec", "upd", "cat", f"{CG}/pids/pids.max").strip() == "50"
