"""The benchmark (bench/run.py) runs in quick mode and prints every figure next to its target.

Timings are never asserted: only that each figure was measured and printed, and the parts of the
benchmark that are pure logic (the critical path of a request log, the figure line).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import Figure
from bench.instrument import Logged
from bench.live_checks import critical_path, longest_chains

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (
    "startup.tui", "startup.tui_demo", "startup.version", "startup.check_exit", "startup.check",
    "checks.critical_path", "checks.vs_sequential",
    *(f"large.{figure}_{size}" for size in ("10k", "100k", "1m") for figure in ("requests", "wall", "peak_rss")),
    "large.fallback_100k",
    "ui.stall", "ui.stall_step_change", "ui.key_to_frame",
    "ui.stall_large", "ui.stall_step_change_large", "ui.key_to_frame_large",
)
LINE = re.compile(r"^FIGURE (?P<id>[a-z0-9_.]+): (?P<value>[0-9.]+)(?P<unit>x| ms| MB|) "
                  r"\((?:target (?:<=|<|>=) [0-9.]+(?:x| ms| MB|)\) (?:met|MISSED)|no target\)) \| .+: .+$")


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIGURE ")]
    printed = [LINE.match(line) for line in lines]
    assert all(printed), [line for line, match in zip(lines, printed, strict=True) if not match]
    assert [m["id"] for m in printed if m] == list(FIGURES)
    assert "NOT MEASURED" not in done.stdout
    assert "--version imports Textual: no" in done.stdout
    assert "check imports Textual: no" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith(("all targets met", "targets missed: "))


def _log(read: str, count: int, service: str = "graph", start: float = 0.0) -> list[Logged]:
    host = f"{service}.demo.test"
    return [Logged(start + i, start + i + 1, "GET", host, f"/v1.0/{read}/{i}", "t", read) for i in range(count)]


def test_critical_path_follows_paging_and_dependencies() -> None:
    log = [*_log("organization", 1), *_log("partners", 2), *_log("tenant_information", 1), *_log("machines", 2)]
    chain = critical_path(log)
    assert chain.requests == 3  # two partner pages, then the $batch that needs them
    assert chain.path[0].startswith("partners (") and chain.path[1].startswith("tenant_information (")
    assert len(longest_chains(log)) == 1
    setup = [Logged(0, 1, "POST", "login.demo.test", "/t/oauth2/v2.0/token", "MainThread", "")]
    with_token = critical_path(setup + log)
    assert with_token.requests == 4 and with_token.path[0] == "before the reads (token)"


def test_ties_are_all_reported() -> None:
    log = [*_log("partners", 1), *_log("tenant_information", 1), *_log("av_info", 2, "mde")]
    assert sorted(c.path[-1].split(" (")[0] for c in longest_chains(log)) == ["av_info", "tenant_information"]


def test_figure_line_says_met_or_missed() -> None:
    met = Figure("a.b", "title", 1.2, "x", 1.3, "<=", "detail")
    missed = Figure("a.b", "title", 2.0, "x", 1.3, "<=", "detail")
    info = Figure("a.c", "title", 12.5, " ms", None, "", "detail")
    faster = Figure("a.d", "title", 3.9, "x", 4.0, ">=", "detail")
    assert "(target >= 4x) MISSED" in faster.line() and not faster.met
    assert "(target <= 1.30x) met" in met.line() and met.met
    assert "(target <= 1.30x) MISSED" in missed.line() and not missed.met
    assert "(no target)" in info.line() and info.met
    assert all(LINE.match(f.line()) for f in (met, missed, info, faster))
