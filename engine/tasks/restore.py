"""What a (re)started engine finds: every live shim to reattach to, every dead one cleaned up.

live, dead = restore(run_root, root)
live["web"].wait()                 # a ShimClient, as if the engine had never gone away
dead["db"].exit_status             # 255, or 137 when the orphaned container was killed
"""

from __future__ import annotations

from engine.shimapi.discovery import cleanup_dead, list_ids, probe
from engine.shimapi.exitfile import ExitStatus
from engine.shimapi.paths import Layout
from engine.tasks.client import ShimClient


def restore(run_root: str, root: str) -> tuple[dict[str, ShimClient], dict[str, ExitStatus]]:
    """Reconnect to live shims (checked with `connect`); clean up after dead ones."""
    live: dict[str, ShimClient] = {}
    dead: dict[str, ExitStatus] = {}
    for cid in list_ids(run_root):
        layout = Layout(run_root, root, cid)
        if probe(layout):
            live[cid] = ShimClient.for_layout(layout)
        else:
            dead[cid] = cleanup_dead(layout)
    return live, dead
