"""The Engine over the real seams: the image store, bridge networks and pyshim."""

from engine.config import EngineConfig
from engine.lifecycle.images_adapter import StoreImages
from engine.lifecycle.network_adapter import BridgeNetworks
from engine.lifecycle.service import Engine
from engine.lifecycle.tasks_adapter import ShimTasks


def exit_command(config: EngineConfig, container_id: str) -> tuple[str, ...]:
    """`pyengine _exited ID` with this engine's settings spelled out: the shim that runs it may
    have been forked by a zygote started under another environment."""
    env = {
        "PYENGINE_ROOT": str(config.root),
        "PYENGINE_RUN": str(config.run),
        "PYENGINE_PROXY": config.proxy_path,
        "PYENGINE_BRIDGE_SUBNET": config.bridge_subnet,
        "PYENGINE_BRIDGE_DEVICE": config.bridge_device,
        "PYENGINE_NFT_TABLE": config.nft_table,
        "PYENGINE_DNS_UPSTREAM": ",".join(config.dns_upstreams),
        "PYENGINE_RUNTIMES": ";".join(
            " ".join((f"{name}={entry.path}", *entry.args))
            for name, entry in config.runtimes.items()
            if name != "runc"
        ),
    }
    return ("/usr/bin/env", *(f"{k}={v}" for k, v in env.items()), *config.engine_argv,
            "_exited", container_id)  # fmt: skip


def build_engine(config: EngineConfig) -> Engine:
    """An Engine for this configuration."""
    return Engine(
        config.root,
        StoreImages(config.root),
        BridgeNetworks(config),
        ShimTasks(config),
        proxy_path=config.proxy_path,
        exit_command=lambda cid: exit_command(config, cid),
        dns_upstreams=config.dns_upstreams,
    )
