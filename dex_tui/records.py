"""``@dataclass`` and ``@dataclass(frozen=True)`` at a fraction of their import-time cost.

CPython 3.11 compiles every method of a dataclass from source text as the class is defined: for a
frozen one ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__``, about
1.1 ms a class on a 2-core machine, so ~110 ms before ``dex-tui check`` reads anything (it defines ~100).
Here only ``__init__`` is generated (it alone depends on the fields' defaults); the others are small
functions closing over the class's field names, built without compiling anything.

The result is a real dataclass (``dataclasses.fields``, ``replace``, ``asdict`` work) that behaves as the
standard one for what this package uses: equality compares the fields with ``compare=True`` as a tuple and
only against the same class; a frozen class hashes that tuple, refuses to assign a field after
``__init__`` (``dataclasses.FrozenInstanceError``), to set any other attribute, or to delete one; a
non-frozen class is unhashable; the repr lists the fields with ``repr=True`` and survives a cycle.
Methods the class body defines itself are kept. ``order``, ``slots``, ``kw_only`` and ``unsafe_hash`` are
not offered: nothing here uses them.

Type checkers see the standard decorator (they know its rules); the cheap one runs.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

_T = TypeVar("_T", bound=type)


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)  # a tuple for two names or more


def _add(cls: type, name: str, value: Any) -> None:
    if name not in cls.__dict__:  # what the class body defines wins, as with the standard decorator
        if callable(value):
            value.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, value)


def _finish(cls: _T, frozen: bool) -> _T:
    undocumented = not cls.__doc__
    if undocumented:  # else the standard decorator builds a docstring with inspect.signature (~0.2 ms)
        cls.__doc__ = cls.__name__
    dataclasses.dataclass(cls, repr=False, eq=False)  # only __init__ is generated; the class is changed in place
    fields = dataclasses.fields(cls)
    if undocumented:
        cls.__doc__ = f"{cls.__name__}({', '.join(f.name for f in fields if f.init)})"
    compared = _getter(tuple(f.name for f in fields if f.compare))
    hashed = _getter(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in fields if f.repr)
    field_names = frozenset(f.name for f in fields)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return compared(self) == compared(other)

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    _add(cls, "__eq__", __eq__)
    _add(cls, "__repr__", __repr__)
    if not frozen:
        _add(cls, "__hash__", None)
        return cls

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        # The generated __init__ assigns each field once; after that every assignment is refused.
        if name in field_names and name not in self.__dict__:
            object.__setattr__(self, name, value)
            return
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    _add(cls, "__hash__", __hash__)
    _add(cls, "__setattr__", __setattr__)
    _add(cls, "__delattr__", __delattr__)
    return cls


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    def dataclass(cls: type | None = None, /, *, frozen: bool = False) -> Any:
        """``@dataclass`` or ``@dataclass(frozen=True)``; see the module's docstring."""
        if cls is None:
            return lambda cls: _finish(cls, frozen)
        return _finish(cls, frozen)
