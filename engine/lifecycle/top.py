"""`top`: a running container's processes, as the host's `ps` shows them (moby does the
same: `ps` on the host, filtered by the container's pids), for the CLI and the API alike."""

import subprocess
from dataclasses import dataclass

from engine.containers.errors import ConflictError
from engine.containers.record import LIVE
from engine.errors import EngineError
from engine.lifecycle.base import LifecycleBase


@dataclass(frozen=True)
class ProcessTable:
    """`ps`'s header line split into titles, and each of the container's lines into fields."""

    header: str
    titles: tuple[str, ...]
    lines: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def container_top(engine: LifecycleBase, ref: str, ps_args: tuple[str, ...] = ()) -> ProcessTable:
    with engine.locked(ref) as record:
        if record.state.status not in LIVE:
            raise ConflictError(f"Container {record.id} is not running")
        pids = set(engine.tasks.pids(record.id))
    output = subprocess.run(
        ["ps", *(ps_args or ("-ef",))], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    if not output:
        raise EngineError(f"ps {' '.join(ps_args)} printed nothing")
    titles = tuple(output[0].split())
    if "PID" not in titles:
        raise EngineError("Couldn't find PID field in ps output")
    column = titles.index("PID")
    lines, rows = [], []
    for line in output[1:]:
        fields = tuple(line.split(None, len(titles) - 1))
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            lines.append(line)
            rows.append(fields)
    return ProcessTable(output[0], titles, tuple(lines), tuple(rows))
