"""The engine a command works on, built once per process from the environment."""

import functools

from engine.config import EngineConfig, from_env
from engine.lifecycle.adapters import build_engine
from engine.lifecycle.service import Engine
from engine.private import ensure_private_roots


@functools.cache
def config() -> EngineConfig:
    """This process's settings, with its state and run roots private (engine.private): records
    and OCI configs hold containers' environments, whatever umask the caller has."""
    settings = from_env()
    ensure_private_roots(settings.root, settings.run)
    return settings


@functools.cache
def open_engine() -> Engine:
    """The Engine over the real images, networks and shims."""
    return build_engine(config())
