"""Immutable records for the code that runs before pyproxy reports ready.

`dataclasses` imports `inspect`, and `typing.NamedTuple` imports `typing` and `re`: together
over half of a 20 ms startup budget (docker-proxy is ready in about 2.5 ms, and dockerd starts
its proxies one after another, two per published port). A record is a class with `__slots__`
whose fields are set once by a typed `__init__` and never again.
"""

from __future__ import annotations


class Record:
    """Frozen, comparable, hashable; subclasses list their fields in `__slots__`."""

    __slots__ = ()

    def __init__(self, **fields: object) -> None:
        if fields.keys() != set(self.__slots__):
            raise TypeError(f"{type(self).__name__} takes exactly {self.__slots__}")
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[object, ...]:
        names: tuple[str, ...] = self.__slots__
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and type(other) is type(self)
            and (self._values() == other._values())
        )

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({fields})"
