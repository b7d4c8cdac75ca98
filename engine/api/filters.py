"""List filters, as Docker's `filters` query parameter carries them: JSON, each key a list of
values (or, from old clients, an object of value: true). Values of one key are alternatives;
keys must all match."""

import json

from engine.api.http import HttpError
from engine.containers.record import ContainerRecord
from engine.containers.views import label_matches, labels

Filters = dict[str, list[str]]
CONTAINER_KEYS = ("label", "name", "id", "status", "network")


def parse(text: str) -> Filters:
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise HttpError(400, f"invalid filters: {text!r}") from None
    if not isinstance(raw, dict):
        raise HttpError(400, "invalid filters: expected an object")
    parsed: Filters = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            values = [k for k, on in values.items() if on]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise HttpError(400, f"invalid filter {key!r}")
        parsed[key] = values
    return parsed


def container_matches(record: ContainerRecord, wanted: Filters) -> bool:
    unknown = set(wanted) - set(CONTAINER_KEYS)
    if unknown:
        raise HttpError(400, f"invalid filter {sorted(unknown)[0]!r}")
    checks = {
        "label": lambda values: label_matches(labels(record), values),
        "name": lambda values: any(v.lstrip("/") in record.name for v in values),
        "id": lambda values: any(record.id.startswith(v) for v in values),
        "status": lambda values: record.state.status in values,
        "network": lambda values: record.host.network in values,
    }
    return all(checks[key](values) for key, values in wanted.items() if values)
