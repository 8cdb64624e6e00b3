"""dex_tui.records.dataclass behaves as the standard decorator for everything the package relies on."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dex_tui.records import dataclass


def _pair(frozen: bool) -> tuple[type, type]:
    """The same class body under the standard decorator and under the cheap one."""
    made = []
    for decorate in (dataclasses.dataclass(frozen=frozen), dataclass(frozen=frozen)):
        @decorate
        class Item:
            name: str
            count: int = 0
            tags: tuple[str, ...] = ()
            note: str = dataclasses.field(default="", repr=False, compare=False)
            extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

        made.append(Item)
    return made[0], made[1]


@pytest.mark.parametrize("frozen", [True, False])
def test_equality_repr_and_fields_match_the_standard_decorator(frozen: bool) -> None:
    standard, cheap = _pair(frozen)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = [(("a",), {}), (("a", 2), {"tags": ("x",)}), (("b",), {"note": "n", "extra": {"k": 1}})]
    for args, kwargs in cases:
        s, c = standard(*args, **kwargs), cheap(*args, **kwargs)
        assert repr(s) == repr(c)
        assert [f.name for f in dataclasses.fields(s)] == [f.name for f in dataclasses.fields(c)]
        assert dataclasses.asdict(s) == dataclasses.asdict(c)
    assert cheap("a") == cheap("a", note="other", extra={"x": 1})  # compare=False fields are ignored
    assert cheap("a") != cheap("a", 1)
    assert cheap("a") != standard("a")  # only the same class compares equal
    assert (cheap("a") == ("a", 0, ())) is False
    assert dataclasses.replace(cheap("a"), count=3) == cheap("a", 3)
    assert vars(cheap)["__match_args__"] == vars(standard)["__match_args__"]
    assert dataclasses.is_dataclass(cheap)


def test_a_frozen_class_hashes_its_compared_fields_and_refuses_changes() -> None:
    standard, cheap = _pair(True)
    item = cheap("a", 1, extra={"k": 1})
    assert hash(item) == hash(cheap("a", 1))
    assert len({item, cheap("a", 1), cheap("b")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.count = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.other = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del item.name
    assert item.count == 1
    assert (type(standard("a").__hash__), type(item.__hash__)) == (type(standard("a").__hash__),) * 2


def test_a_mutable_class_is_unhashable_and_assignable() -> None:
    _, cheap = _pair(False)
    item = cheap("a")
    item.count = 5
    assert item == cheap("a", 5)
    with pytest.raises(TypeError):
        hash(item)


def test_a_subclass_adds_fields_and_methods_of_the_body_are_kept() -> None:
    @dataclass(frozen=True)
    class Base:
        a: int

    @dataclass(frozen=True)
    class Child(Base):
        b: str = "x"

        def __repr__(self) -> str:
            return "custom"

    child = Child(1)
    assert (child.a, child.b, repr(child), repr(Base(2)).split(".")[-1]) == (1, "x", "custom", "Base(a=2)")
    assert child != Base(1)
    assert hash(child) == hash(Child(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.b = "y"  # type: ignore[misc]


def test_a_cycle_in_the_repr_does_not_recurse_forever() -> None:
    @dataclass
    class Node:
        children: list[Any] = dataclasses.field(default_factory=list)

    node = Node()
    node.children.append(node)
    assert repr(node).endswith(".Node(children=[...])")
