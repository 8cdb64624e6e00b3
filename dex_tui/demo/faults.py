"""Behaviour knobs applied per endpoint: which fault (if any) a call meets, counted per fault."""

from __future__ import annotations

import json

from dex_tui.demo.scenario import Fault
from dex_tui.records import dataclass


@dataclass
class Outcome:
    """What the knobs decided for one call: extra latency, and at most one misbehaviour."""

    latency_ms: int = 0
    fault: Fault | None = None


class FaultBook:
    """Counts calls per fault so "the first N calls" and "skip M, then N" work; not thread-safe by
    itself (the fake cloud calls it under its lock)."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self.faults = faults
        self.seen = [0] * len(faults)

    def decide(self, endpoint: str, *, kinds: tuple[str, ...] | None = None) -> Outcome:
        outcome = Outcome()
        for index, fault in enumerate(self.faults):
            if not fault.matches(endpoint) or (kinds is not None and fault.kind not in kinds):
                continue
            self.seen[index] += 1
            n = self.seen[index]
            if n <= fault.skip or (fault.count and n > fault.skip + fault.count):
                continue
            if fault.kind == "latency":
                outcome.latency_ms += fault.latency_ms
            elif outcome.fault is None:
                outcome.fault = fault
        return outcome


def malform(body: bytes) -> bytes:
    """A body that is no longer valid JSON (cut in the middle, after a valid-looking start)."""
    if not body:
        return b"{"
    cut = max(1, len(body) // 2)
    candidate = body[:cut]
    try:
        json.loads(candidate)
    except ValueError:
        return candidate
    return candidate + b",{"
