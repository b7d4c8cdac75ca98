"""The engine's settings, read from the environment in one place (nothing below the CLI reads
the environment): where state lives, which runtimes exist, the default bridge network."""

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.defaults import DEFAULT_ROOT, DEFAULT_RUN
from engine.errors import EngineError

__all__ = [
    "DEFAULT_BRIDGE_DEVICE",
    "DEFAULT_BRIDGE_SUBNET",
    "DEFAULT_NFT_TABLE",
    "DEFAULT_ROOT",
    "DEFAULT_RUN",
    "EngineConfig",
    "RuntimeEntry",
    "from_env",
]
# The default `bridge` network; like Podman's 10.88.0.0/16, out of Docker's 172.17/16 so both
# engines can run on one host.
DEFAULT_BRIDGE_SUBNET = "10.88.0.0/16"
DEFAULT_BRIDGE_DEVICE = "pyengine0"
DEFAULT_NFT_TABLE = "pyengine"


@dataclass(frozen=True, slots=True)
class RuntimeEntry:
    """A named OCI runtime, as `dockerd --add-runtime NAME=PATH` and `runtimeArgs`."""

    path: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine's adapters need to find and place things."""

    root: Path
    run: Path
    proxy_path: str
    bridge_subnet: str = DEFAULT_BRIDGE_SUBNET
    bridge_device: str = DEFAULT_BRIDGE_DEVICE
    nft_table: str = DEFAULT_NFT_TABLE
    default_runtime: str = "runc"
    runtimes: Mapping[str, RuntimeEntry] = field(default_factory=dict)
    engine_argv: tuple[str, ...] = ()
    # `PYENGINE_DNS_UPSTREAM="IP[:PORT],..."`: where user networks' DNS servers forward;
    # empty: the host's /etc/resolv.conf.
    dns_upstreams: tuple[str, ...] = ()

    def runtime(self, name: str) -> RuntimeEntry:
        """The runtime a container asked for; unknown names fail before anything is made."""
        entry = self.runtimes.get(name)
        if entry is None:
            raise EngineError(f"unknown or invalid runtime name: {name}")
        return entry


def _runtimes(text: str) -> dict[str, RuntimeEntry]:
    """`PYENGINE_RUNTIMES="name=/path [args...];name2=/path2"`; runc is always there."""
    found = {"runc": RuntimeEntry(shutil.which("runc") or "/usr/sbin/runc")}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, command = item.partition("=")
        words = command.split()
        if not sep or not name or not words:
            raise EngineError(f"invalid runtime entry {item!r}: want NAME=PATH [ARGS...]")
        found[name] = RuntimeEntry(words[0], tuple(words[1:]))
    return found


def from_env(environ: Mapping[str, str] | None = None) -> EngineConfig:
    """The configuration for this process."""
    env = os.environ if environ is None else environ
    here = Path(sys.executable).parent
    proxy = env.get("PYENGINE_PROXY") or str(here / "pyproxy")
    engine = env.get("PYENGINE_ENGINE") or str(here / "pyengine")
    return EngineConfig(
        root=Path(env.get("PYENGINE_ROOT", DEFAULT_ROOT)),
        run=Path(env.get("PYENGINE_RUN", DEFAULT_RUN)),
        proxy_path=proxy,
        bridge_subnet=env.get("PYENGINE_BRIDGE_SUBNET", DEFAULT_BRIDGE_SUBNET),
        bridge_device=env.get("PYENGINE_BRIDGE_DEVICE", DEFAULT_BRIDGE_DEVICE),
        nft_table=env.get("PYENGINE_NFT_TABLE", DEFAULT_NFT_TABLE),
        dns_upstreams=tuple(u for u in env.get("PYENGINE_DNS_UPSTREAM", "").split(",") if u),
        default_runtime=env.get("PYENGINE_DEFAULT_RUNTIME", "runc"),
        runtimes=_runtimes(env.get("PYENGINE_RUNTIMES", "")),
        engine_argv=(engine,),
    )
