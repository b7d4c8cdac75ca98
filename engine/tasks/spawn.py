"""Starting shims: through the run root's zygote (forked, the default) or by exec.

client = create_task(config)         # spawn + create; nothing is left behind on failure
remove_task(client)                  # delete + shutdown
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.shimapi.config import ShimConfig
from engine.shimapi.errors import ShimError
from engine.shimapi.exitfile import ExitStatus
from engine.shimapi.fingerprint import code_fingerprint
from engine.tasks.client import ShimClient, raise_remote

# The shim runs without site-packages (-S): it imports only the stdlib and this package, and
# site's .pth processing costs milliseconds and memory in every shim.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); from engine.shim.cli import main; "
_BOOT += "sys.exit(main())"


def shim_command() -> list[str]:
    """argv prefix that runs pyshim with this interpreter."""
    return [sys.executable, "-S", "-c", _BOOT]


def shim_env() -> dict[str, str]:
    """The caller's environment, minus PYTHONDONTWRITEBYTECODE: without cached bytecode every
    shim start recompiles the package (about 25 ms)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def spawn(
    config: ShimConfig, *, command: Sequence[str] | None = None, zygote: bool = True
) -> ShimClient:
    """Start a shim for config (it daemonizes) and return a client connected to it.

    With `zygote` (the default) the shim is forked by the run root's zygote, started on first
    use; without one (or when it cannot start) the shim is exec'd directly.
    """
    if zygote:
        address = _via_zygote(config, command)
        if address:
            return ShimClient(address, cid=config.id)
    argv = [*(command or shim_command()), "start", *config.argv()]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=shim_env())
    out = proc.stdout.strip()
    if proc.returncode != 0:
        if out.startswith("{"):
            raise_remote(json.loads(out)["error"])
        raise ShimError(proc.stderr.strip() or f"pyshim exited {proc.returncode}")
    return ShimClient(out or config.layout.socket, cid=config.id)


def zygote_socket(run_root: str) -> str:
    return os.path.join(run_root, "zygote.sock")


def start_zygote(run_root: str, command: Sequence[str] | None = None) -> bool:
    """Start the run root's zygote (a no-op when one answers); False if it could not start."""
    os.makedirs(run_root, exist_ok=True)
    argv = [*(command or shim_command()), "zygote", "--run-root", run_root]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=shim_env())
    return proc.returncode == 0


def _via_zygote(config: ShimConfig, command: Sequence[str] | None) -> str | None:
    path = zygote_socket(config.run_root)
    request = (json.dumps({"argv": config.argv(), "code": code_fingerprint()}) + "\n").encode()
    started = False
    for _ in range(3):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            if started or not start_zygote(config.run_root, command):
                return None
            started = True
            continue
        try:
            sock.sendall(request)
            with sock.makefile("rb") as reader:
                line = reader.readline()
        except OSError:
            return None
        finally:
            sock.close()
        if not line:
            return None  # the zygote died mid-request: exec instead
        reply = json.loads(line)
        if reply.get("stale"):
            continue  # that zygote ran older code and has retired: the next try starts one
        if not reply.get("ok"):
            raise_remote(reply.get("error") or {})
        return str(reply["address"])
    return None


def create_task(
    config: ShimConfig,
    *,
    stdin: bool = False,
    start: bool = False,
    command: Sequence[str] | None = None,
    zygote: bool = True,
) -> ShimClient:
    """spawn + create (+ start); on a failure the shim is shut down, leaving nothing behind."""
    client = spawn(config, command=command, zygote=zygote)
    try:
        client.create(stdin=stdin, start=start)
    except BaseException:
        try:
            client.shutdown(now=True)
        except ShimError:
            pass
        raise
    return client


def remove_task(client: ShimClient) -> ExitStatus:
    """delete + shutdown: the runtime state, cgroup, socket and pid files are gone after it."""
    status = client.delete()
    client.shutdown()
    return status
