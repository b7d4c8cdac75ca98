"""Where a shim keeps its files: volatile state under the run root, records under the root.

<run>/runc/                      the runtime's --root (never the default /run/runc)
<run>/shims/<id>/shim.sock       task API socket
<run>/shims/<id>/shim.pid        the daemon's pid
<run>/shims/<id>/shim.json       how it was started (runtime, args, roots, log options)
<run>/shims/<id>/init.pid        the container's init pid (runc --pid-file)
<run>/shims/<id>/runtime.json    runc --log (JSON lines; errors are read back from it)
<run>/shims/<id>/shim.log        the shim's own warnings
<root>/containers/<id>/<id>-json.log[.N]   the container's json-file log
<root>/containers/<id>/exit.json           {"exit_status", "exited_at", "pid", "oom_killed"}
<root>/containers/<id>/oom                 present when the cgroup recorded an OOM kill
"""

from __future__ import annotations

import os

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes including the NUL


class Layout:
    """All paths of one container's shim; pure, nothing touches the disk."""

    __slots__ = ("id", "root", "run_root")

    def __init__(self, run_root: str, root: str, cid: str) -> None:
        self.run_root = os.path.abspath(run_root)
        self.root = os.path.abspath(root)
        self.id = cid

    def __repr__(self) -> str:
        return f"<Layout {self.id} run={self.run_root} root={self.root}>"

    @property
    def runtime_root(self) -> str:
        return os.path.join(self.run_root, "runc")

    @property
    def shims_dir(self) -> str:
        return os.path.join(self.run_root, "shims")

    @property
    def state_dir(self) -> str:
        return os.path.join(self.shims_dir, self.id)

    def state(self, name: str) -> str:
        return os.path.join(self.state_dir, name)

    @property
    def socket(self) -> str:
        return self.state("shim.sock")

    @property
    def data_dir(self) -> str:
        return os.path.join(self.root, "containers", self.id)

    @property
    def log_path(self) -> str:
        return os.path.join(self.data_dir, f"{self.id}-json.log")

    @property
    def exit_file(self) -> str:
        return os.path.join(self.data_dir, "exit.json")

    @property
    def oom_file(self) -> str:
        return os.path.join(self.data_dir, "oom")
