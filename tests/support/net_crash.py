"""Run one endpoint ADD and SIGKILL this process right after a chosen step (kill -9 test).

python -m tests.support.net_crash ROOT HOSTNS TABLE NETWORK CTRNS STEP
"""

import os
import signal
import sys
from typing import Any

import bridge.endpoints
import bridge.ipam_disk
import bridge.nftclient
import bridge.state
from bridge import Driver, endpoint_request, port_mapping

STEPS = ("lease", "record", "veth", "addr", "nft")


def die_after(owner: Any, name: str, calls: int = 1) -> None:
    real = getattr(owner, name)
    seen = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        seen[0] += 1
        if seen[0] >= calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main(argv: list[str]) -> None:
    root, host, table, network, ctr, step = argv
    targets = {
        "lease": (bridge.ipam_disk.DiskStore, "reserve"),
        "record": (bridge.state.State, "save_endpoint"),
        "veth": (bridge.endpoints, "add_veth"),
        "addr": (bridge.endpoints, "configure_peer"),
        "nft": (bridge.nftclient.LibNft, "run"),
    }
    owner, name = targets[step]
    with Driver(root, netns=host, table=table) as driver:
        cfg = driver.network(network)
        die_after(owner, name)
        driver.add_endpoint(cfg, endpoint_request("victim", ctr, ports=[port_mapping(8080, 80)]))
    sys.exit(3)  # not reached: the step should have killed us


if __name__ == "__main__":
    main(sys.argv[1:7])
