"""`Networks` over bridge/ and netns/: one named namespace and one endpoint per container.

The default network `bridge` is made on first use from the engine's settings, as dockerd makes
docker0 at start; user networks come from `pyengine network create`.
"""

import os
from collections.abc import Sequence

import netns
from bridge import Driver, network_config
from bridge.config import endpoint_request
from bridge.errors import BridgeError, NetworkExistsError, NetworkNotFoundError
from bridge.networks import ensure_network
from bridge.ports import port_mapping
from bridge.rtnl import Batch, Rtnl
from engine.config import EngineConfig
from engine.containers.ports import PortBinding
from engine.errors import EngineError
from engine.lifecycle.backends import Attachment
from netns import NetnsError

DEFAULT_NETWORK = "bridge"


def netns_name(container_id: str) -> str:
    """The container's namespace under /run/netns (short: `ip netns` lists it)."""
    return f"pyengine-{container_id[:12]}"


def _loopback_up(ns: str) -> None:
    """`lo` up, as Docker has it in every container (127.0.0.1 and its own address answer)."""
    rtnl = Rtnl(netns.netlink_in(ns))
    try:
        batch = Batch()
        batch.link_up(1)  # the loopback device is always ifindex 1 in a new namespace
        rtnl.send(batch)
    finally:
        rtnl.close()


class NetworkAdapterError(EngineError):
    """A network step failed; the message is the bridge's own."""


class BridgeNetworks:
    """Containers' namespaces and endpoints on bridge networks, ports in our nft table."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"BridgeNetworks(root={str(self.config.root)!r}, table={self.config.nft_table!r})"

    def _driver(self) -> Driver:
        return Driver(self.config.root, table=self.config.nft_table)

    def _ensure_default(self, driver: Driver) -> None:
        wanted = network_config(
            DEFAULT_NETWORK, self.config.bridge_subnet, bridge=self.config.bridge_device
        )
        try:
            current = driver.network(DEFAULT_NETWORK)
        except NetworkNotFoundError:
            try:
                driver.create_network(wanted)
            except NetworkExistsError:
                # Another command made it meanwhile, or one killed between making the bridge
                # and recording it left the bridge behind: it has our device name, so adopt it.
                try:
                    driver.network(DEFAULT_NETWORK)
                except NetworkNotFoundError:
                    with driver.host.state.lock():
                        ensure_network(driver.host, wanted)
            return
        # A bridge that exists was set up by create_network; re-asserting its firewall on every
        # `run` costs tens of ms, so that waits for a missing bridge (after a reboot) or for
        # `pyengine network reload` (after `nft flush ruleset`), as Docker heals on restart.
        if not os.path.exists(f"/sys/class/net/{current.bridge}"):
            ensure_network(driver.host, current)

    def exists(self, network: str) -> bool:
        if network == DEFAULT_NETWORK:
            return True
        try:
            with self._driver() as driver:
                driver.network(network)
        except NetworkNotFoundError:
            return False
        except BridgeError as exc:
            raise NetworkAdapterError(str(exc)) from exc
        return True

    def connect(
        self,
        network: str,
        container_id: str,
        name: str,
        *,
        ifname: str = "eth0",
        ip: str = "",
        mac: str = "",
    ) -> Attachment:
        try:
            with self._driver() as driver:
                if network == DEFAULT_NETWORK:
                    self._ensure_default(driver)
                cfg = driver.network(network)
                ns = netns_name(container_id)
                if netns.exists(ns):
                    path = netns.path(ns)
                else:
                    path = netns.create(ns)
                    _loopback_up(ns)
                existing = [
                    r
                    for r in driver.endpoints(network)
                    if r.container_id == container_id and r.ifname == ifname
                ]
                request = endpoint_request(
                    container_id,
                    path,
                    ifname,
                    ip=ip or None,
                    mac=mac or None,
                    default_route=ifname == "eth0",
                )
                record = existing[0] if existing else driver.add_endpoint(network, request)
        except NetworkNotFoundError:
            raise NetworkAdapterError(f"network {network} not found") from None
        except (BridgeError, NetnsError) as exc:
            raise NetworkAdapterError(str(exc)) from exc
        return Attachment(path, record.ipv4 or "", str(cfg.gateway), record.mac)

    def publish(
        self, network: str, container_id: str, ip: str, bindings: Sequence[PortBinding]
    ) -> None:
        try:
            ports = [
                port_mapping(b.host_port, b.container_port, b.proto, b.host_ip or None)
                for b in bindings
            ]
            with self._driver() as driver:
                driver.publish(network, container_id, "eth0", ports)
        except BridgeError as exc:
            raise NetworkAdapterError(str(exc)) from exc

    def detach(self, network: str, container_id: str, ifname: str) -> None:
        """One network beyond the first leaves the container's namespace (every endpoint of
        it there when `ifname` is ""); absent is fine."""
        try:
            with self._driver() as driver:
                try:
                    for record in driver.endpoints(network):
                        if record.container_id == container_id and ifname in ("", record.ifname):
                            driver.remove_endpoint(network, container_id, record.ifname)
                except NetworkNotFoundError:
                    pass
        except BridgeError as exc:
            raise NetworkAdapterError(str(exc)) from exc

    def disconnect(self, network: str, container_id: str) -> None:
        try:
            with self._driver() as driver:
                try:
                    driver.remove_endpoint(network, container_id, "eth0")
                except NetworkNotFoundError:
                    pass
            netns.remove(netns_name(container_id))
        except (BridgeError, NetnsError) as exc:
            raise NetworkAdapterError(str(exc)) from exc
