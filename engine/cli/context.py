"""The engine a command works on, built once per process from the environment."""

import functools
from pathlib import Path

from engine.config import EngineConfig, from_env
from engine.defaults import default_root
from engine.images.service import ImageService
from engine.lifecycle.adapters import build_engine
from engine.lifecycle.image_users import image_users
from engine.lifecycle.service import Engine
from engine.lifecycle.volumes import VolumeService
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


def open_images() -> ImageService:
    """The images of the engine's root, with its containers as their users. Nothing is created:
    listing images on a fresh host leaves no directory behind."""
    root = Path(default_root())
    return ImageService(root, image_users(root))


def open_volumes() -> VolumeService:
    """The volumes of the engine's root, with its containers as their users."""
    engine = open_engine()
    return VolumeService(engine.store, engine.volumes)
