"""ShimConfig: everything a shim is started with; parsed from argv once, saved as shim.json.

Saved so that cleanup after a crash (and a reattaching engine) knows which runtime binary and
arguments drove the container, as containerd writes `options.json`/`runtime` into the bundle.
"""

from __future__ import annotations

import json
import os
from typing import Any

from engine.defaults import default_root, default_run_root
from engine.runtime.runtime import validate_id
from engine.shimapi.errors import InvalidArgumentError
from engine.shimapi.paths import MAX_SOCKET_PATH, Layout

VERSION = "0.1.0"
_FLAGS = (
    "--id",
    "--bundle",
    "--run-root",
    "--root",
    "--runtime",
    "--log-max-size",
    "--log-max-file",
    "--log-driver",
)
LOG_DRIVERS = ("json-file", "none")


class ShimConfig:
    """One container's shim settings (read-only by convention)."""

    __slots__ = (
        "bundle",
        "exit_command",
        "id",
        "log_driver",
        "log_max_file",
        "log_max_size",
        "root",
        "run_root",
        "runtime",
        "runtime_args",
    )

    def __init__(
        self,
        *,
        id: str,
        bundle: str,
        run_root: str,
        root: str,
        runtime: str = "runc",
        runtime_args: tuple[str, ...] = (),
        log_max_size: int = -1,
        log_max_file: int = 1,
        log_driver: str = "json-file",
        exit_command: tuple[str, ...] = (),
    ) -> None:
        self.id = validate_id(id)
        self.bundle = os.path.abspath(bundle)
        self.run_root = os.path.abspath(run_root)
        self.root = os.path.abspath(root)
        self.runtime = runtime
        self.runtime_args = tuple(runtime_args)
        # Run once the init's exit is on disk (conmon's --exit-command): a daemonless engine's
        # cleanup and restart policy, since no daemon waits on the task.
        self.exit_command = tuple(exit_command)
        if log_max_size == 0 or log_max_size < -1:
            raise InvalidArgumentError(f"invalid log max size {log_max_size}: must be > 0 or -1")
        if log_max_file < 1:
            raise InvalidArgumentError(f"invalid log max file {log_max_file}: must be >= 1")
        if log_driver not in LOG_DRIVERS:
            raise InvalidArgumentError(f"unknown log driver {log_driver!r}")
        self.log_max_size = log_max_size
        self.log_max_file = log_max_file
        self.log_driver = log_driver
        if len(self.layout.socket) > MAX_SOCKET_PATH:
            raise InvalidArgumentError(
                f"socket path too long (max {MAX_SOCKET_PATH}): {self.layout.socket}"
            )

    def __repr__(self) -> str:
        return f"<ShimConfig {self.id} bundle={self.bundle} runtime={self.runtime}>"

    @property
    def layout(self) -> Layout:
        return Layout(self.run_root, self.root, self.id)

    def argv(self) -> list[str]:
        """The flags that rebuild this config (the client passes them to `pyshim start`)."""
        out = [
            "--id",
            self.id,
            "--bundle",
            self.bundle,
            "--run-root",
            self.run_root,
            "--root",
            self.root,
            "--runtime",
            self.runtime,
            "--log-max-size",
            str(self.log_max_size),
            "--log-max-file",
            str(self.log_max_file),
            "--log-driver",
            self.log_driver,
        ]
        for arg in self.runtime_args:
            out.append(f"--runtime-arg={arg}")
        for arg in self.exit_command:
            out.append(f"--exit-command-arg={arg}")
        return out

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    @staticmethod
    def from_json(data: dict[str, object]) -> ShimConfig:
        kw: dict[str, Any] = dict(data)
        kw["runtime_args"] = tuple(kw.get("runtime_args") or ())
        kw["exit_command"] = tuple(kw.get("exit_command") or ())
        return ShimConfig(**kw)

    @staticmethod
    def load(path: str) -> ShimConfig:
        with open(path, "rb") as f:
            return ShimConfig.from_json(json.loads(f.read()))

    @staticmethod
    def from_argv(argv: list[str]) -> ShimConfig:
        """`--flag value`, `--flag=value`, repeatable `--runtime-arg=X`; else raises."""
        values: dict[str, str] = {}
        runtime_args: list[str] = []
        exit_command: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            name, eq, value = arg.partition("=")
            if not eq:
                if i + 1 >= len(argv):
                    raise InvalidArgumentError(f"flag needs a value: {arg}")
                value = argv[i + 1]
                i += 1
            i += 1
            if name == "--runtime-arg":
                runtime_args.append(value)
            elif name == "--exit-command-arg":
                exit_command.append(value)
            elif name in _FLAGS:
                values[name[2:].replace("-", "_")] = value
            else:
                raise InvalidArgumentError(f"unknown flag {name}")
        for required in ("id", "bundle"):
            if required not in values:
                raise InvalidArgumentError(f"missing --{required}")
        try:
            size = int(values.pop("log_max_size", "-1"))
            files = int(values.pop("log_max_file", "1"))
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid number: {exc}") from None
        return ShimConfig(
            id=values["id"],
            bundle=values["bundle"],
            run_root=values.get("run_root") or default_run_root(),
            root=values.get("root") or default_root(),
            runtime=values.get("runtime", "runc"),
            runtime_args=tuple(runtime_args),
            log_max_size=size,
            log_max_file=files,
            log_driver=values.get("log_driver", "json-file"),
            exit_command=tuple(exit_command),
        )
