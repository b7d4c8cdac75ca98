"""nft operations over a Host that need more than one batch: deletes that tolerate absence."""

from __future__ import annotations

import json
from typing import Any

from bridge.errors import FirewallError
from bridge.host import Host
from bridge.nftrender import Cmd


def run_deletes(host: Host, cmds: list[Cmd]) -> None:
    """Apply deletes, tolerating objects that are already gone (after `nft flush ruleset`,
    or a DEL repeated): on refusal retry with only what the table still holds."""
    if not cmds:
        return
    try:
        host.nft.run(cmds)
        return
    except FirewallError:
        pass
    present = present_objects(host)
    kept = []
    for cmd in cmds:
        obj = cmd["delete"]
        kind, spec = next(iter(obj.items()))
        if kind == "element":
            have = present.get((spec["family"], "elem", spec["name"]), set())
            elems = [e for e in spec["elem"] if elem_key(e) in have]
            if elems:
                kept.append({"delete": {"element": {**spec, "elem": elems}}})
        elif (spec["family"], kind, spec["name"]) in present:
            kept.append(cmd)
    host.nft.run(kept)


def elem_key(e: Any) -> str:
    return json.dumps(e, sort_keys=True)


def present_objects(host: Host) -> dict[tuple[str, str, str], set[str]]:
    found: dict[tuple[str, str, str], set[str]] = {}
    for family in ("inet", "bridge"):
        for obj in host.nft.list_table(family, host.render.name):
            kind, spec = next(iter(obj.items()))
            if kind in ("chain", "map", "set"):
                found[(family, kind, spec["name"])] = set()
            if kind in ("map", "set"):
                keys = {elem_key(e[0] if kind == "map" else e) for e in spec.get("elem", [])}
                found[(family, "elem", spec["name"])] = keys
    return found
