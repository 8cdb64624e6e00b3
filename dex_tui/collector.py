"""The garbage collector held off while dex-tui starts, then left with only what the run allocates.

Starting allocates tens of thousands of objects that live until the process ends (the modules, classes
and functions of requests, MSAL, Textual and dex-tui), and the collector examines each of them several
times on the way (every young collection walks them before they are promoted): ~60 ms of CPU of a
450 ms headless check on a 2-core machine. :func:`hold`, the first thing the ``dex-tui`` command does,
pauses automatic collection; :func:`release`, once start-up is over (the check's modules imported, the
wizard's first screen drawn, any other command about to run), moves everything allocated so far out
of the collector's reach (``gc.freeze``) and resumes it, so later collections look only at what the run
itself allocates. Reference counting frees memory as usual throughout; only objects in reference
cycles wait for the release. A program that imports dex_tui as a library is not affected.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """Pause automatic collection for start-up (nothing happens if it is already off)."""
    global _held
    if gc.isenabled() and not _held:
        gc.disable()
        _held = True


def release() -> None:
    """Start-up is over: freeze what it allocated and resume collection (once; a no-op without hold)."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
