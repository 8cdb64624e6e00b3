"""A small OData ``$filter`` parser and evaluator: comparisons (eq, ne, gt, ge, lt, le), ``in``,
``startswith``, ``and``/``or``/``not`` and parentheses; what Graph and the MDE API accept for the reads
the product makes. Property names match case-insensitively (the MDE docs spell some both ways).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dex_tui.records import dataclass


class FilterError(ValueError):
    """The filter cannot be parsed or names a property that cannot be filtered."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<paren>[(),])
  | (?P<number>-?\d+(?:\.\d+)?(?![\w:-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}T[\d:.]+Z)
  | (?P<word>[A-Za-z_][\w/.]*)
)""", re.VERBOSE)

_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")


@dataclass(frozen=True)
class Node:
    op: str  # and / or / not / cmp / in / startswith
    args: tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = match.end()
        kind = match.lastgroup or ""  # every alternative is a named group
        value = match.group(kind)
        if kind == "string":
            out.append(("value", value[1:-1].replace("''", "'")))
        elif kind == "number":
            out.append(("value", float(value) if "." in value else int(value)))
        elif kind == "datetime":
            out.append(("value", value))
        elif kind == "paren":
            out.append((value, value))
        elif value in ("true", "false"):
            out.append(("value", value == "true"))
        elif value == "null":
            out.append(("value", None))
        else:
            out.append(("word", value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def _next_is(self, kind: str) -> bool:
        item = self.peek()
        return item is not None and item[0] == kind

    def take(self, kind: str | None = None, value: Any = None) -> tuple[str, Any]:
        item = self.peek()
        if item is None or (kind and item[0] != kind) or (value is not None and item[1] != value):
            raise FilterError(f"Syntax error in '{self.text}' near token {self.pos + 1}.")
        self.pos += 1
        return item

    def parse(self) -> Node:
        node = self.or_()
        if (extra := self.peek()) is not None:
            raise FilterError(f"Syntax error in '{self.text}': unexpected '{extra[1]}'.")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == ("word", "or"):
            self.take()
            node = Node("or", (node, self.and_()))
        return node

    def and_(self) -> Node:
        node = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            node = Node("and", (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek() == ("word", "not"):
            self.take()
            return Node("not", (self.unary(),))
        if self._next_is("("):
            self.take("(")
            node = self.or_()
            self.take(")")
            return node
        _, name = self.take("word")
        if name == "startswith" and self._next_is("("):
            self.take("(")
            _, prop = self.take("word")
            self.take(",")
            _, value = self.take("value")
            self.take(")")
            return Node("startswith", (prop, value))
        _, op = self.take("word")
        if op == "in":
            self.take("(")
            values = [self.take("value")[1]]
            while self._next_is(","):
                self.take(",")
                values.append(self.take("value")[1])
            self.take(")")
            return Node("in", (name, tuple(values)))
        if op not in _COMPARISONS:
            raise FilterError(f"Unsupported operator '{op}' in '{self.text}'.")
        _, value = self.take("value")
        return Node("cmp", (name, op, value))


def parse_filter(text: str) -> Node:
    return _Parser(text).parse()


def properties(node: Node) -> set[str]:
    """Lower-cased property names a filter uses."""
    if node.op in ("and", "or", "not"):
        return set().union(*(properties(child) for child in node.args))
    return {node.args[0].lower()}


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def evaluate(node: Node, get: Callable[[str], Any]) -> bool:
    """Evaluate against ``get(lowercase_property)``. String comparisons ignore case."""
    if node.op == "and":
        return evaluate(node.args[0], get) and evaluate(node.args[1], get)
    if node.op == "or":
        return evaluate(node.args[0], get) or evaluate(node.args[1], get)
    if node.op == "not":
        return not evaluate(node.args[0], get)
    if node.op == "startswith":
        actual = get(node.args[0].lower())
        return isinstance(actual, str) and actual.lower().startswith(str(node.args[1]).lower())
    if node.op == "in":
        actual = _norm(get(node.args[0].lower()))
        return actual in {_norm(v) for v in node.args[1]}
    name, op, expected = node.args
    actual, expected = _norm(get(name.lower())), _norm(expected)
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        return bool({"gt": actual > expected, "ge": actual >= expected, "lt": actual < expected,
                     "le": actual <= expected}[op])
    except TypeError:
        return False


def getter(record: Mapping[str, Any]) -> Callable[[str], Any]:
    lowered = {k.lower(): v for k, v in record.items()}
    return lowered.get
