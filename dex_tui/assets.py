"""Find the data files in ``assets/``, both in a source checkout and in an installed wheel.

The wheel carries ``assets/`` as ``dex_tui/assets`` (see ``pyproject.toml``); a checkout or an
editable install keeps it beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from dex_tui.asset_cache import cached_parse
from dex_tui.errors import InternalError
from dex_tui.localfiles import read_bounded
from dex_tui.tomlfile import load_toml

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def assets_dir() -> Path:
    """The directory holding the shipped data files."""
    for candidate in (_PACKAGE_DIR / "assets", _PACKAGE_DIR.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise InternalError(
        "The data files of dex-tui (assets/) are missing from the installation.",
        next_step="Reinstall dex-tui.",
    )


def asset_path(*parts: str) -> Path:
    """Path of one shipped data file, e.g. ``asset_path("clouds.toml")``."""
    return assets_dir().joinpath(*parts)


def load_toml_asset(*parts: str) -> dict[str, Any]:
    """Read a shipped TOML file (parsed once per content, see :mod:`dex_tui.asset_cache`); a broken one
    is an internal error, not a traceback."""
    path = asset_path(*parts)

    def parse() -> dict[str, Any]:
        return load_toml(path, "shipped data file",
                         error=lambda text: InternalError(text, next_step="Reinstall dex-tui.")).data

    try:
        raw = read_bounded(path)
    except OSError:
        return parse()  # which names the problem
    return cached_parse(path, raw, parse)
