"""Clients that apply a batch of libnftables JSON commands as one kernel transaction.

`LibNft` calls libnftables in-process. Its context opens its netlink socket when created, so a
context created on a thread inside a namespace (netns.call_in) works on that namespace from any
thread afterwards; the caller's thread never moves. `check_batch` refuses the map declaration
that crashes libnftables 1.0.6 (a concatenated *data* type: SIGSEGV in the whole process).
`FakeNft` records batches for unit tests.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

from bridge.errors import FirewallError
from bridge.nftrender import Cmd
from netns import call_in


def check_batch(commands: list[Cmd]) -> None:
    """Raise FirewallError if a command declares a map with concatenated data (1.0.6 segfault)."""
    for cmd in commands:
        for verb in ("add", "create"):
            decl = cmd.get(verb, {}).get("map")
            if decl is not None and not isinstance(decl.get("map"), str):
                raise FirewallError(
                    f"refuse map {decl.get('name')!r} with data type {decl.get('map')!r}: "
                    "libnftables 1.0.6 crashes the process on concatenated map data"
                )


class NftClient(Protocol):
    """One method applies a batch atomically; one lists a table as JSON objects."""

    def run(self, commands: list[Cmd]) -> None:
        """Apply `commands` in one transaction; FirewallError (nothing applied) on failure."""
        ...

    def list_table(self, family: str, table: str) -> list[dict[str, Any]]:
        """The table's objects (`{"chain": ...}`, `{"map": ...}`, rules...); [] if absent."""
        ...


class LibNft:
    """libnftables through the `nftables` bindings, bound to a namespace (None: ours)."""

    def __init__(self, netns: str | None = None) -> None:
        # Imported with the first context: `nftables` loads ctypes and libnftables, which a
        # `pybridge` call whose chains are in place never needs (nftgen.py).
        import nftables  # noqa: PLC0415

        def make() -> Any:
            ctx = nftables.Nftables()
            ctx.set_json_output(True)
            return ctx

        self.netns = netns
        self._ctx = call_in(netns, make)
        self._lock = threading.Lock()  # a context is not safe for concurrent use

    def __repr__(self) -> str:
        return f"<LibNft netns={self.netns!r}>"

    def run(self, commands: list[Cmd]) -> None:
        if not commands:
            return
        check_batch(commands)
        with self._lock:
            rc, _out, err = self._ctx.json_cmd({"nftables": commands})
        if rc != 0:
            raise FirewallError(f"apply nftables batch of {len(commands)}: {err.strip()}")

    def list_table(self, family: str, table: str) -> list[dict[str, Any]]:
        with self._lock:
            rc, out, _err = self._ctx.cmd(f"list table {family} {table}")
        if rc != 0:
            return []
        objs: list[dict[str, Any]] = json.loads(out).get("nftables", [])
        return [o for o in objs if "metainfo" not in o]


class FakeNft:
    """Records batches; `fail_next` makes the next run raise, as a refused batch would."""

    def __init__(self) -> None:
        self.batches: list[list[Cmd]] = []
        self.fail_next: str | None = None

    def run(self, commands: list[Cmd]) -> None:
        check_batch(commands)
        if self.fail_next:
            msg, self.fail_next = self.fail_next, None
            raise FirewallError(msg)
        if commands:
            self.batches.append(commands)

    def list_table(self, family: str, table: str) -> list[dict[str, Any]]:
        return []
