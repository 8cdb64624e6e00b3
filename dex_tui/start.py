"""The ``dex-tui`` console command: hold the garbage collector off for start-up, then run the CLI.

This module imports nothing heavy, so :func:`dex_tui.collector.hold` runs before the command line's
modules are imported (:mod:`dex_tui.collector` says why).
"""

from __future__ import annotations

from dex_tui.collector import hold


def main() -> int:
    hold()
    from dex_tui.cli import main as cli_main

    return cli_main()
