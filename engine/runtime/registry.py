"""Named runtimes, as `dockerd --add-runtime NAME=PATH` and daemon.json's `runtimes` define them."""

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.runtime.errors import RuntimeNotAvailableError
from engine.runtime.runtime import Runtime

DEFAULT_RUNTIME = "runc"


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """One named runtime: a binary (name on PATH or absolute path) and its extra global args."""

    name: str
    path: str
    runtime_args: tuple[str, ...] = ()

    def resolve(self) -> str:
        """The absolute path of the binary; RuntimeNotAvailableError if there is none."""
        if os.path.isabs(self.path):
            if not os.access(self.path, os.X_OK):
                raise RuntimeNotAvailableError(
                    f"runtime {self.name!r}: {self.path} is not executable"
                )
            return self.path
        found = shutil.which(self.path) or next(
            (
                p
                for p in (f"/usr/sbin/{self.path}", f"/usr/bin/{self.path}")
                if os.access(p, os.X_OK)
            ),
            None,
        )
        if found is None:
            raise RuntimeNotAvailableError(f"runtime {self.name!r}: {self.path} not found in PATH")
        return found

    def client(self, *, root: str, log: str = "") -> Runtime:
        return Runtime(self.resolve(), root=root, log=log, args=self.runtime_args)


def parse_add_runtime(text: str) -> RuntimeConfig:
    """`NAME=PATH` as dockerd's --add-runtime takes it."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"invalid runtime {text!r}: expected NAME=PATH")
    return RuntimeConfig(name, path)


@dataclass(frozen=True, slots=True)
class Runtimes:
    """The table an engine picks from by name; `runc` (and `crun`) are always there."""

    entries: Mapping[str, RuntimeConfig] = field(default_factory=dict)
    default: str = DEFAULT_RUNTIME

    @staticmethod
    def build(
        added: Sequence[str] = (),
        configs: Mapping[str, Mapping[str, object]] | None = None,
        default: str = DEFAULT_RUNTIME,
    ) -> "Runtimes":
        """From --add-runtime values and daemon.json-style {name: {path, runtimeArgs}}."""
        table = {n: RuntimeConfig(n, n) for n in ("runc", "crun")}
        for text in added:
            rt = parse_add_runtime(text)
            table[rt.name] = rt
        for name, conf in (configs or {}).items():
            args = conf.get("runtimeArgs") or ()
            if not isinstance(args, list | tuple):
                raise ValueError(f"runtime {name!r}: runtimeArgs must be a list")
            table[name] = RuntimeConfig(name, str(conf["path"]), tuple(str(a) for a in args))
        if default not in table:
            raise ValueError(f"default runtime {default!r} is not configured")
        return Runtimes(table, default)

    def get(self, name: str | None = None) -> RuntimeConfig:
        key = name or self.default
        if key not in self.entries:
            raise RuntimeNotAvailableError(f"unknown runtime specified {key}")
        return self.entries[key]
