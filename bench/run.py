"""dex-tui benchmark: prints each figure as a ratio measured side by side in this run, next to its target.

    python bench/run.py                 # every section, full repetitions (a few minutes)
    python bench/run.py --quick         # every section, fewer repetitions (well under a minute)
    python bench/run.py --startup --ui  # only some sections

Sections: --startup (figure 1), --checks (2: live checks with 150 ms latency), --large (3: the
200,000-user tenant at 10k, 100k and 1M devices), --ui (4: event-loop stalls and key-to-frame time
while the checks run).
Every figure is printed as one line starting with ``FIGURE <id>:``, followed by indented notes.
This is a benchmark, not a test: it never fails on a missed target (exit 0), only on a broken run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the checkout (bench, dex_tui, screens) importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

from bench.common import Figure, sandbox  # noqa: E402

SECTIONS = ("startup", "checks", "large", "ui")


def _section(name: str, quick: bool, box: Path, latency_ms: int) -> list[Figure]:
    if name == "startup":
        from bench import startup

        reps = 3 if quick else 15
        return startup.tui_figures(reps, box) + startup.headless_figures(reps, box)
    if name == "checks":
        from bench import live_checks

        return live_checks.figures(latency_ms=latency_ms, reps=1 if quick else 5)
    if name == "large":
        from bench import large

        return large.figures(box, quick=quick, latency_ms=latency_ms)
    if name == "ui":
        from bench import responsiveness

        return responsiveness.figures(latency_ms=latency_ms, quick=quick)
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n")[0])
    for name in SECTIONS:
        parser.add_argument(f"--{name}", action="store_true", help=f"run the {name} section")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (for the smoke test)")
    parser.add_argument("--latency-ms", type=int, default=150, help="injected latency per request (default 150)")
    args = parser.parse_args(argv)
    chosen = [name for name in SECTIONS if getattr(args, name)] or list(SECTIONS)
    print(f"dex-tui benchmark: sections {', '.join(chosen)}; {'quick' if args.quick else 'full'} mode; "
          f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)", flush=True)
    box = sandbox()
    missed: list[str] = []
    try:
        for name in chosen:
            started = time.monotonic()
            print(f"\n== {name}", flush=True)
            for figure in _section(name, args.quick, box, args.latency_ms):
                _print(figure, missed)
            print(f"   (section took {time.monotonic() - started:.1f} s)", flush=True)
    finally:
        shutil.rmtree(box, ignore_errors=True)
    print(f"\n{'all targets met' if not missed else 'targets missed: ' + ', '.join(missed)}")
    return 0


def _print(figure: Figure, missed: list[str], out: Callable[..., None] = print) -> None:
    out(figure.line(), flush=True)
    for note in figure.notes:
        out(f"    {note}", flush=True)
    if not figure.met:
        missed.append(figure.id)


if __name__ == "__main__":
    sys.exit(main())
