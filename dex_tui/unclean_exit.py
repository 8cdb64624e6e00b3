"""Whether the last wizard for a tenant ended without putting its terminal back.

A wizard draws on the terminal's alternate screen with mouse reporting on and the cursor hidden, and
restores all three when it exits. When the connection drops (SSH: the client is gone, the wizard gets
SIGHUP) or the process is killed, nothing on this side can reach the customer's terminal any more, so
it stays in that mode until they type ``reset``. The wizard therefore leaves a marker in the state
folder while it runs (one per tenant, next to the progress file) and removes it when it ended with its
terminal put back; a marker found at the next start means the last run did not, and the start says what
to type (and, on a terminal, first puts back what it can: the customer reconnected, so this terminal is
reachable again).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dex_tui.localfiles import open_private, private_folder

FOLDER = "running"
RESTORE_HINT = (
    "The last dex-tui wizard for this tenant did not end cleanly (the connection dropped, or it was "
    "stopped), so the terminal it ran in may still be in the wizard's mode: mouse moves or clicks print "
    "stray characters, or the cursor is gone. If so, type  reset  and press Enter in that terminal (or "
    "tput rmcup to leave the wizard's screen); quitting dex-tui normally restores it too.")


# What the wizard's driver undoes on a clean exit: line wrapping back on, mouse reporting and bracketed
# paste off, the alternate screen left, the cursor shown. Written before the hint when it goes to a
# terminal, so the hint lands on the normal screen, whole (a terminal left on the alternate screen would
# lose it when the next wizard exits) and the terminal is itself again even if no wizard starts.
TERMINAL_RESTORE = "\x1b[?7h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?1049l\x1b[?25h"


class RunMarker:
    """The marker of a wizard running for tenant ``key`` in ``state_dir``."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self.path = state_dir / FOLDER / f"{key}.json"

    def left_behind(self) -> bool:
        """Whether a previous wizard for this tenant left its marker (it did not end cleanly)."""
        return self.path.is_file()

    def write(self) -> None:
        """Mark the wizard as running (best effort: a state folder that cannot be written loses only this
        hint, never the run)."""
        try:
            private_folder(self.path.parent.parent, FOLDER)
            fd = open_private(self.path, os.O_WRONLY | os.O_TRUNC, create=True)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps({"pid": os.getpid()}) + "\n")
        except OSError:
            pass

    def remove(self) -> None:
        """The wizard ended with its terminal put back."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
