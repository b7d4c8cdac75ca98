"""`rename`: a container's new name, checked as a new one is, under the store's lock (no two
containers can take one name) and its own; its peers' hosts files follow when it runs."""

import dataclasses

from engine.containers import events, names
from engine.containers.errors import ConflictError, InvalidOptionError
from engine.containers.record import LIVE, ContainerRecord
from engine.lifecycle.base import LifecycleBase


def rename(engine: LifecycleBase, ref: str, new_name: str) -> ContainerRecord:
    if not new_name:
        raise InvalidOptionError("Neither old nor new names may be empty")
    name = names.check_name(new_name)
    with engine.locked(ref) as record, engine.store.locked():
        if record.name == name:
            raise ConflictError("Renaming a container with the same name as its current name")
        for other in engine.store.all():
            if other.name == name:
                raise ConflictError(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{other.id}". You have to remove (or rename) that container to be able to '
                    "reuse that name."
                )
        renamed = dataclasses.replace(record, name=name)
        engine.store.write(renamed)
    if renamed.state.status in LIVE:
        engine.sync_names(renamed.host.network)
    events.append(engine.root, events.Event("rename", renamed.id, name, renamed.config.image))
    return renamed
