"""The engine a command works on, built once per process from the environment."""

import functools

from engine.config import EngineConfig, from_env
from engine.lifecycle.adapters import build_engine
from engine.lifecycle.service import Engine


@functools.cache
def config() -> EngineConfig:
    """This process's settings."""
    return from_env()


@functools.cache
def open_engine() -> Engine:
    """The Engine over the real images, networks and shims."""
    return build_engine(config())
