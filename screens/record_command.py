"""``dex-tui demo-record``: play demo walkthroughs in the wizard headless and write one SVG screenshot per
marked step. Kept light (argparse only): Textual is imported when a recording starts, not for ``--help``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dex_tui import console
from dex_tui.errors import ExitCode, UsageError
from dex_tui.walkthrough import (
    HEADER_KEYS,
    STEP_KEYS,
    WAIT_KEYS,
    bundled_names,
    load_walkthrough,
    resolve_walkthrough,
)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    names = ", ".join(bundled_names()) or "none"
    parser.add_argument("walkthroughs", nargs="+", metavar="WALKTHROUGH",
                        help=f"a walkthrough file (.toml), or a bundled one: {names}")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="directory for the SVG screenshots (created if missing; files of the same name "
                             "are replaced)")
    conditions = "\n".join(f"  {key:13} {meaning}" for key, meaning in WAIT_KEYS.items())
    parser.epilog = (
        "walkthrough format (TOML; see the README, 'Demo walkthroughs'):\n"
        f"  [walkthrough]  {', '.join(HEADER_KEYS)}\n"
        f"  [[step]]       {', '.join(STEP_KEYS)} (done in this order)\n"
        f"wait = {{ ... }} holds when all of its conditions hold:\n{conditions}\n"
        "exit codes: 0 every screenshot written; 4 a bad walkthrough file, a walkthrough that does not\n"
        "play as written, or an output directory that cannot be written; 130 interrupted.")


def run(settings: Any, args: argparse.Namespace) -> int:
    """Check every walkthrough first, then play each and print the files written."""
    walkthroughs = [load_walkthrough(resolve_walkthrough(value)) for value in args.walkthroughs]
    output = Path(args.output).expanduser().resolve()
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"The output directory {str(output)!r} cannot be created: {exc.strerror or exc}.",
                         next_step="Choose another --output directory.") from exc
    from screens.recorder import record  # Textual only when a recording starts

    for walkthrough in walkthroughs:
        for written in record(walkthrough, output):
            console.out(str(written))
    return int(ExitCode.READY)
