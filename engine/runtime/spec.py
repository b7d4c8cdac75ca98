"""A minimal valid OCI `config.json`: the shape `runc spec` writes, with our knobs on top."""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.private import write_private
from engine.runtime.errors import OCIRuntimeError

OCI_VERSION = "1.0.2-dev"
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
DEFAULT_CAPS = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
NAMESPACES = ("pid", "network", "ipc", "uts", "mount")
HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)
_RLIMIT_NAMES = "AS CORE CPU DATA FSIZE LOCKS MEMLOCK MSGQUEUE NICE NOFILE NPROC RSS RTPRIO RTTIME"
RLIMITS = frozenset("RLIMIT_" + n for n in (*_RLIMIT_NAMES.split(" "), "SIGPENDING", "STACK"))


class SpecError(OCIRuntimeError):
    """The requested config.json would be invalid."""


@dataclass(frozen=True, slots=True)
class Hook:
    """One OCI hook: the runtime runs `path` with `args`, the state JSON on its stdin."""

    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.args:
            out["args"] = list(self.args)
        if self.env:
            out["env"] = list(self.env)
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


@dataclass(frozen=True, slots=True)
class SpecOptions:
    """Everything the generator varies; defaults match `runc spec` except `terminal=False`."""

    rootfs: str
    args: tuple[str, ...] = ("sh",)
    env: tuple[str, ...] = DEFAULT_ENV
    cwd: str = "/"
    hostname: str = "pyengine"
    terminal: bool = False
    uid: int = 0
    gid: int = 0
    readonly_rootfs: bool = False
    namespaces: tuple[str, ...] = NAMESPACES
    # None: a new network namespace; a path: join it (e.g. /run/netns/X); "host": none at all
    netns_path: str | None = None
    cgroups_path: str = ""
    rlimits: Mapping[str, tuple[int, int]] = field(
        default_factory=lambda: {"RLIMIT_NOFILE": (1024, 1024)}
    )
    capabilities: tuple[str, ...] = DEFAULT_CAPS
    hooks: Mapping[str, Sequence[Hook]] = field(default_factory=dict)
    extra_mounts: tuple[dict[str, Any], ...] = ()
    memory_limit: int | None = None
    pids_limit: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


def _mounts(extra: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    nosuid = ["nosuid", "noexec", "nodev"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": [*nosuid, "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*nosuid, "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [*nosuid, "relatime", "ro"],
        },
        *extra,
    ]


def _namespaces(opts: SpecOptions) -> list[dict[str, str]]:
    out = []
    for kind in opts.namespaces:
        if kind not in (*NAMESPACES, "cgroup", "user"):
            raise SpecError(f"unknown namespace type {kind!r}")
        if kind == "network":
            if opts.netns_path == "host":
                continue
            if opts.netns_path is not None:
                if not os.path.isabs(opts.netns_path):
                    raise SpecError(f"network namespace path must be absolute: {opts.netns_path}")
                out.append({"type": "network", "path": opts.netns_path})
                continue
        out.append({"type": kind})
    return out


def generate(opts: SpecOptions) -> dict[str, Any]:
    """The config.json document; SpecError names the first invalid option."""
    if not os.path.isabs(opts.rootfs):
        raise SpecError(f"rootfs must be an absolute path: {opts.rootfs!r}")
    if not opts.args:
        raise SpecError("process args must not be empty")
    for name, (soft, hard) in opts.rlimits.items():
        if name not in RLIMITS:
            raise SpecError(f"unknown rlimit {name!r}")
        if soft > hard:
            raise SpecError(f"rlimit {name}: soft {soft} above hard {hard}")
    for kind in opts.hooks:
        if kind not in HOOK_KINDS:
            raise SpecError(f"unknown hook kind {kind!r}")
    caps = list(opts.capabilities)
    resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if opts.memory_limit is not None:
        resources["memory"] = {"limit": opts.memory_limit}
    if opts.pids_limit is not None:
        resources["pids"] = {"limit": opts.pids_limit}
    linux: dict[str, Any] = {
        "resources": resources,
        "namespaces": _namespaces(opts),
        "maskedPaths": [
            *("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats"),
            *("/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware"),
            "/proc/scsi",
        ],
        "readonlyPaths": [
            *("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"),
        ],
    }
    if opts.cgroups_path:
        linux["cgroupsPath"] = opts.cgroups_path
    doc: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": opts.terminal,
            "user": {"uid": opts.uid, "gid": opts.gid},
            "args": list(opts.args),
            "env": list(opts.env),
            "cwd": opts.cwd,
            "capabilities": dict.fromkeys(("bounding", "effective", "permitted"), caps),
            "rlimits": [
                {"type": name, "hard": hard, "soft": soft}
                for name, (soft, hard) in opts.rlimits.items()
            ],
            "noNewPrivileges": True,
        },
        "root": {"path": opts.rootfs, "readonly": opts.readonly_rootfs},
        "hostname": opts.hostname,
        "mounts": _mounts(opts.extra_mounts),
        "linux": linux,
    }
    if opts.hooks:
        doc["hooks"] = {k: [h.to_json() for h in v] for k, v in opts.hooks.items()}
    if opts.annotations:
        doc["annotations"] = dict(opts.annotations)
    return doc


def write_bundle(bundle: Path, opts: SpecOptions) -> Path:
    """Write bundle/config.json (the bundle directory must exist); returns its path."""
    if not bundle.is_dir():
        raise SpecError(f"bundle directory {bundle} does not exist")
    path = bundle / "config.json"
    # It holds the process's environment: 0600 whatever the umask (engine.private).
    write_private(path, json.dumps(generate(opts), indent=2) + "\n", durable=False)
    return path


def process_spec(
    args: Sequence[str],
    *,
    env: Sequence[str] = DEFAULT_ENV,
    cwd: str = "/",
    uid: int = 0,
    gid: int = 0,
    terminal: bool = False,
    capabilities: Sequence[str] = DEFAULT_CAPS,
) -> dict[str, Any]:
    """A `process` object for `exec --process` (the shim's Exec takes one)."""
    if not args:
        raise SpecError("exec args must not be empty")
    caps = list(capabilities)
    return {
        "terminal": terminal,
        "user": {"uid": uid, "gid": gid},
        "args": list(args),
        "env": list(env),
        "cwd": cwd,
        "capabilities": dict.fromkeys(("bounding", "effective", "permitted"), caps),
        "noNewPrivileges": True,
    }
