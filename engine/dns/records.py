"""A network's names, as the engine writes them for its DNS server: `dns.json` beside the
network's hosts lock. Each entry is one running container: its address and the names it
answers to (name, network aliases, short id)."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

RECORDS = "dns.json"


@dataclass(frozen=True, slots=True)
class Entry:
    ip: str
    names: tuple[str, ...]
    # Names this container (and only it) resolves, and to what: its --link aliases and its
    # peers on its other networks, (name, address) each.
    view: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Table:
    """Names and addresses, read again whenever the file changes (a stat per question)."""

    path: Path
    _stamp: tuple[int, int] = (-1, -1)
    _by_name: dict[str, list[str]] = field(default_factory=dict)
    _by_ip: dict[str, str] = field(default_factory=dict)
    _views: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    empty_since: float | None = None

    def refresh(self) -> bool:
        """Re-read a changed file; False when it is gone (the network's names are)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            self._stamp = stamp
            entries = load(self.path)
            self._by_name = {}
            self._by_ip = {}
            self._views = {}
            for entry in entries:
                for name, ip in entry.view:
                    names = self._views.setdefault(entry.ip, {})
                    names.setdefault(name.lower(), []).append(ip)
            for entry in entries:
                for name in entry.names:
                    self._by_name.setdefault(name.lower(), []).append(entry.ip)
                if entry.names:
                    self._by_ip.setdefault(entry.ip, entry.names[0])
        return True

    def is_empty(self) -> bool:
        return not self._by_ip

    def addresses(self, name: str, client: str = "") -> list[str] | None:
        """The addresses of `name`, as the container at `client` sees it (its own view
        first: its links, its other networks)."""
        own = self._views.get(client, {}).get(name.lower())
        return own if own is not None else self._by_name.get(name.lower())

    def name_of(self, ip: str) -> str | None:
        return self._by_ip.get(ip)


def load(path: Path) -> list[Entry]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [
        Entry(
            str(e["ip"]),
            tuple(map(str, e["names"])),
            tuple((str(n), str(ip)) for n, ip in e.get("view", [])),
        )
        for e in data.get("entries", [])
    ]


def dump(entries: list[Entry]) -> str:
    return json.dumps(
        {
            "entries": [
                {"ip": e.ip, "names": list(e.names), "view": [list(x) for x in e.view]}
                for e in entries
            ]
        }
    )
