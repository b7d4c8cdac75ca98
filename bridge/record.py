"""Immutable records without `dataclasses`, for the code `pybridge` runs on every CNI call.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`...) and `exec`s the
source of every method of every class: about 15 ms of a plugin start that the reference CNI
plugin finishes in about 10 ms. A record is a class with `__slots__` whose fields are set once
by a typed `__init__` (through `_init`) and never again; equality, hashing and repr are those a
frozen dataclass would generate.
"""


class Record:
    """Frozen, comparable, hashable; subclasses list their fields in `__slots__`.

    `_compare` names the fields that take part in ==/hash (default: all, in `__slots__` order),
    as `field(compare=False)` would for a dataclass.
    """

    __slots__ = ()
    _compare: tuple[str, ...] = ()

    def _init(self, **fields: object) -> None:
        """Set the fields once (from the subclass's `__init__`)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[object, ...]:
        names: tuple[str, ...] = self._compare or self.__slots__
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__qualname__}({fields})"

    def _fields(self) -> dict[str, object]:
        """Field name -> value, in declaration order (what `dataclasses.asdict` starts from)."""
        names: tuple[str, ...] = self.__slots__
        return {n: getattr(self, n) for n in names}
