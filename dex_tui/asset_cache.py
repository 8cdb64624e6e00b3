"""The shipped TOML data files, parsed once per content and kept as JSON in the user's cache folder.

tomllib is a pure-Python parser: ``catalogue.toml`` and ``flow.toml`` cost ~17 ms to parse at every start,
the same data read back from JSON ~0.5 ms. An entry is named by the SHA-256 of the TOML bytes, so an
edited or upgraded file is parsed afresh. An entry is used only when it is a regular file of this user
that no one else could have written (:func:`dex_tui.localfiles.read_private`) and decodes to a JSON
object; it is written only when its JSON reads back equal to the parsed TOML (no dates, no NaN), to a
temporary file renamed into place. Anything wrong with the cache (no home, a read-only or foreign
folder, a damaged entry) means the file is parsed, silently: it is only a cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dex_tui import __version__
from dex_tui.localfiles import private_folder, read_private, replace_whole
from dex_tui.user_dirs import user_dir

MAX_ENTRY = 4 * 1024 * 1024  # JSON of a shipped file is about its TOML's size; the largest is ~35 KB


def _entry(name: str, raw: bytes) -> tuple[Path, str]:
    digest = hashlib.sha256(raw).hexdigest()[:32]
    folder = user_dir("cache") / "assets"
    return folder, f"{name}-{__version__}-{digest}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        raw = read_private(path, MAX_ENTRY)
        data = json.loads(raw) if raw is not None else None
    except (OSError, ValueError):  # UnsafePath and TooLarge are OSErrors; bad UTF-8 or JSON a ValueError
        return None
    return data if isinstance(data, dict) else None


def _write(folder: Path, file_name: str, data: dict[str, Any]) -> None:
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        if json.loads(text) != data:  # a value JSON does not keep exactly (a tuple, an int key)
            return
        folder, _ = private_folder(folder.parent, folder.name)
        replace_whole(folder / file_name, text.encode("utf-8"))
    except (OSError, TypeError, ValueError):  # a date (TypeError), NaN (ValueError), no writable folder
        return


def cached_parse(path: Path, raw: bytes, parse: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The data of the shipped TOML file at ``path`` whose bytes are ``raw``: from the cache when an
    entry for exactly these bytes is there, else ``parse()`` (which raises for broken TOML), then kept."""
    folder, file_name = _entry(path.stem, raw)
    found = _read(folder / file_name)
    if found is not None:
        return found
    data = parse()
    _write(folder, file_name, data)
    return data
