"""Whether a browser opened here would open in front of the operator: a local desktop session.

The one rule for both the browser sign-in and opening a link in the wizard: never over SSH
(``SSH_CONNECTION``, ``SSH_TTY`` or ``SSH_CLIENT`` set), and outside Windows and macOS only with a
``DISPLAY`` or ``WAYLAND_DISPLAY`` (without one, ``webbrowser`` could start a console browser inside
the very terminal the tool runs in). Whether a graphical browser is installed is another question
(:func:`dex_tui.loopback.graphical_browser_available`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

SSH_VARIABLES = ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT")


@dataclass(frozen=True)
class Desktop:
    """The answer: ``present``, or why not (``reason`` in a sentence, ``short`` in a few words)."""

    present: bool
    reason: str = ""
    short: str = ""


def local_desktop(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Desktop:
    """Whether this process runs on a local desktop (``environ`` and ``platform`` default to this process's)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if any(environ.get(name) for name in SSH_VARIABLES):
        return Desktop(False, "this is an SSH session: a browser would open on the remote machine, not in "
                              "front of you", "this is an SSH session")
    if platform not in ("win32", "darwin") and not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return Desktop(False, "there is no desktop session here (no DISPLAY or WAYLAND_DISPLAY)",
                       "there is no desktop session here")
    return Desktop(True)
