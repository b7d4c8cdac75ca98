"""`update`: change a container's resource limits and restart policy; a running one's cgroup
at once (the shim runs `runc update`), the record always, so the next start keeps them."""

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from engine.containers import events, resources, units
from engine.containers.errors import ConflictError, InvalidOptionError
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.restart import parse_restart
from engine.lifecycle.base import LifecycleBase
from engine.lifecycle.bundle import CPU_PERIOD


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """The flags of `docker update`, as given ("" or None: unchanged)."""

    memory: str = ""
    memory_swap: str = ""
    cpus: str = ""
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None
    restart: str = ""


def update(engine: LifecycleBase, ref: str, request: UpdateRequest) -> ContainerRecord:
    with engine.locked(ref) as record:
        host = record.host
        changes: dict[str, Any] = {}
        live: dict[str, int | str] = {}
        memory = units.memory_limit(request.memory) if request.memory else host.memory
        swap = host.memory_swap
        if request.memory_swap:
            swap = -1 if request.memory_swap == "-1" else units.ram_in_bytes(request.memory_swap)
        elif request.memory and host.memory_swap in (0, 2 * host.memory):
            swap = 2 * memory  # it had Docker's default: it keeps it
        if request.memory_swap:
            resources.memory_swap(memory, swap)  # given both: Docker's checks of the pair
        if request.memory and swap not in (0, -1) and memory > swap:
            raise InvalidOptionError(
                "Memory limit should be smaller than already set memoryswap limit, update "
                "the memoryswap at the same time"
            )
        if request.memory or request.memory_swap:
            changes |= {"memory": memory, "memory_swap": swap}
            live |= {"memory": memory, "memory_swap": swap}
        if request.cpus:
            nano = units.nano_cpus(request.cpus, os.cpu_count() or 1)
            changes["nano_cpus"] = nano
            live["cpu_quota"] = nano * CPU_PERIOD // 1_000_000_000
        if request.cpu_shares is not None:
            changes["cpu_shares"] = live["cpu_shares"] = request.cpu_shares
        if request.cpuset_cpus is not None:
            changes["cpuset_cpus"] = live["cpuset_cpus"] = resources.check_cpuset(
                request.cpuset_cpus
            )
        if request.pids_limit is not None:
            limit = units.pids_limit(request.pids_limit)
            changes["pids_limit"] = limit
            live["pids_limit"] = limit if limit > 0 else -1
        if request.restart:
            policy = parse_restart(request.restart)
            if host.auto_remove and policy.name != "no":
                raise ConflictError(
                    "Restart policy cannot be updated because AutoRemove is enabled for the "
                    "container"
                )
            changes["restart"] = policy
        if live and record.state.status in LIVE:
            engine.tasks.update(record.id, live)
        record = dataclasses.replace(record, host=dataclasses.replace(host, **changes))
        engine.store.write(record)
    events.append(
        engine.root,
        events.Event("update", record.id, record.name, record.config.image),
    )
    return record
