"""The per-user folders of dex-tui (state, config, cache), found without importing platformdirs on Linux.

platformdirs compiles regular expressions as it is imported (~10 ms at every start); on Linux and the
BSDs its answer is the XDG base-directory rule, read here directly. Elsewhere platformdirs answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dex_tui import TOOL_NAME

# kind -> (XDG variable, default under the home folder)
_XDG = {"state": ("XDG_STATE_HOME", ".local/state"), "config": ("XDG_CONFIG_HOME", ".config"),
        "cache": ("XDG_CACHE_HOME", ".cache")}


def user_dir(kind: str) -> Path:
    """The tool's per-user ``state``, ``config`` or ``cache`` folder (not created)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        variable, default = _XDG[kind]
        base = os.environ.get(variable, "").strip()
        return Path(base or os.path.expanduser(f"~/{default}")) / TOOL_NAME
    import platformdirs

    found = {"state": platformdirs.user_state_dir, "config": platformdirs.user_config_dir,
             "cache": platformdirs.user_cache_dir}[kind]
    return Path(found(TOOL_NAME, appauthor=False))
