"""What every benchmark section shares: the figure line format, medians, child-process environments."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    """One measured figure, printed on a line of its own next to its target.

    ``ratio`` is compared with ``target`` using ``op`` (``<=``, ``<``, ``>=``); ``detail`` says what was
    compared with what. ``notes`` are printed indented below the line (explanations, causes).
    """

    id: str
    title: str
    value: float
    unit: str
    target: float | None  # None: measured and reported, with no target to meet
    op: str
    detail: str
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        if self.target is None:
            return self.value != float("inf")
        return {"<=": self.value <= self.target, "<": self.value < self.target,
                ">=": self.value >= self.target}[self.op]

    def line(self) -> str:
        if self.target is None:
            verdict = "(no target)" if self.met else "(no target) NOT MEASURED"
        else:
            verdict = f"(target {self.op} {_fmt(self.target)}{self.unit}) {'met' if self.met else 'MISSED'}"
        return f"FIGURE {self.id}: {_fmt(self.value)}{self.unit} {verdict} | {self.title}: {self.detail}"


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{value:.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: list[float]) -> str:
    """``median (min-max, n=N)`` in milliseconds."""
    return f"{ms(median(values))} (min {ms(min(values))}, max {ms(max(values))}, n={len(values)})"


def interleaved(runners: dict[str, Callable[[], float]], reps: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run each runner ``reps`` times, alternating between them so that machine noise hits all alike.

    Warm-up runs (disk cache, .pyc files) are made first and thrown away.
    """
    for _ in range(warmup):
        for run in runners.values():
            run()
    results: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(reps):
        for name, run in runners.items():
            results[name].append(run())
    return results


def child_env(sandbox: Path) -> dict[str, str]:
    """A child's environment: no user config, state or keyring, no DEX_TUI_* or TEXTUAL_* settings.

    Bytecode caching is left on (``PYTHONDONTWRITEBYTECODE`` removed), as for an installed package;
    the warm-up runs write the ``__pycache__`` files.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEX_TUI_", "TEXTUAL_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"XDG_CONFIG_HOME": str(sandbox / "config"), "XDG_STATE_HOME": str(sandbox / "state"),
                "XDG_DATA_HOME": str(sandbox / "data"), "XDG_CACHE_HOME": str(sandbox / "cache"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "TZ": "UTC", "PYTHONPATH": str(ROOT)})
    return env


def sandbox() -> Path:
    return Path(tempfile.mkdtemp(prefix="dex-tui-bench-"))


def dex_tui_command() -> list[str]:
    """The ``dex-tui`` console script of this interpreter's environment (``python -m dex_tui`` if absent)."""
    script = Path(sys.executable).parent / "dex-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dex_tui"]
