"""Collections generated on demand: a scenario with 200,000 users or 100,000 devices is a few
segments of "count objects sharing these properties", so counting and filtering on shared properties
is arithmetic, and listing a page builds only that page's objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dex_tui.demo.odata import Node, evaluate, properties
from dex_tui.records import dataclass


@dataclass(frozen=True)
class Segment:
    """``count`` objects; ``make(i)`` builds object i; ``shared`` holds the lower-cased properties every
    object of the segment has in common (used to filter without building objects)."""

    count: int
    make: Callable[[int], dict[str, Any]]
    shared: dict[str, Any]


class Selection:
    """The objects a filter selected: per segment, either every index or an explicit list."""

    def __init__(self, parts: list[tuple[Segment, Sequence[int]]]) -> None:
        self.parts = [(segment, indices) for segment, indices in parts if len(indices)]

    def __len__(self) -> int:
        return sum(len(indices) for _, indices in self.parts)

    def page(self, skip: int, top: int) -> list[dict[str, Any]]:
        """Objects ``skip`` .. ``skip + top - 1``, building only those."""
        out: list[dict[str, Any]] = []
        for segment, indices in self.parts:
            if len(out) >= top:
                break
            if skip >= len(indices):
                skip -= len(indices)
                continue
            for index in indices[skip: skip + (top - len(out))]:
                out.append(segment.make(index))
            skip = 0
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for segment, indices in self.parts:
            for index in indices:
                yield segment.make(index)


class LazyCollection:
    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments

    def __len__(self) -> int:
        return sum(s.count for s in self.segments)

    def select(self, node: Node | None) -> Selection:
        if node is None:
            return Selection([(s, range(s.count)) for s in self.segments])
        used = properties(node)
        parts: list[tuple[Segment, Sequence[int]]] = []
        for segment in self.segments:
            if used <= set(segment.shared):
                if evaluate(node, segment.shared.get):
                    parts.append((segment, range(segment.count)))
                continue
            keep = []
            for index in range(segment.count):
                record = segment.make(index)
                lowered = {k.lower(): v for k, v in record.items()}
                if evaluate(node, lowered.get):
                    keep.append(index)
            parts.append((segment, keep))
        return Selection(parts)
