"""Read a TOML file the one way: bounded in size, UTF-8, parsed, and every problem a typed error that
names the file and, where it can, the line and the key.

The caller says what the file is (``"config file"``, ``"scenario file"``) and which typed error a
problem becomes (a :class:`~dex_tui.errors.UsageError` for a file the operator gave, an
:class:`~dex_tui.errors.InternalError` for a shipped one). :meth:`TomlFile.where` then names the line
of a key for the checks the caller makes on the parsed data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from dex_tui.asset_cache import cached_parse
from dex_tui.errors import DexError, UsageError
from dex_tui.localfiles import MAX_INPUT_FILE, TooLarge, read_bounded
from dex_tui.records import dataclass

ErrorFactory = Callable[[str], DexError]

# A table header ``[a.b]`` or ``[[a]]``, and a ``key =`` line (bare, quoted or dotted keys).
_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def _parts(dotted: str) -> list[str]:
    return [part.strip("\"'") for part in _PART.findall(dotted)]


def _key_lines(text: str) -> dict[str, int]:
    """``"a.b"`` (and ``"step[2].text"`` for the third ``[[step]]``) -> the line where it is defined."""
    lines: dict[str, int] = {}
    arrays: dict[str, int] = {}
    table: list[str] = []
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:  # inside a multi-line string: nothing here is a key
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _TABLE.match(line)
        if header is not None:
            name = ".".join(_parts(header.group(2)))
            if header.group(1) == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                name = f"{name}[{arrays[name]}]"
            table = [name] if name else []
            lines.setdefault(name, number)
            continue
        key = _KEY.match(line)
        if key is not None:
            lines.setdefault(".".join([*table, *_parts(key.group(1))]), number)
            rest = line[key.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return lines


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file: ``data``, and where its keys are, for errors that point at a line."""

    path: Path
    what: str  # "config file", "scenario file", ...
    data: dict[str, Any]
    text: str = field(repr=False, default="")

    @property
    def name(self) -> str:
        """``config file '/etc/x.toml'``."""
        return f"{self.what} {str(self.path)!r}"

    def line_of(self, key: str) -> int | None:
        """The line defining the dotted ``key`` (``"behaviour.latency_ms"``, ``"step[0].press"``), or of
        the nearest table around it that is written in the file; None when neither is."""
        lines = _key_lines(self.text)
        parts = key.split(".")
        while parts:
            # ``faults[0]`` is a ``[[faults]]`` table, or an element of ``faults = [...]`` written inline.
            for candidate in (".".join(parts), ".".join([*parts[:-1], parts[-1].split("[")[0]])):
                found = lines.get(candidate)
                if found is not None:
                    return found
            parts.pop()
        return None

    def where(self, key: str | None = None) -> str:
        """``config file '/x.toml', line 3`` for ``key`` (the file alone when its line is unknown)."""
        line = self.line_of(key) if key else None
        return f"{self.name}, line {line}" if line else self.name


def parse_toml(text: str, path: Path, what: str, *, error: ErrorFactory = UsageError,
               cached_from: bytes | None = None) -> TomlFile:
    """Parse ``text`` read from ``path``; invalid TOML is ``error(...)`` naming the file and line. With
    ``cached_from`` (the file's bytes) the data comes from :mod:`dex_tui.asset_cache` when it can."""

    def parse() -> dict[str, Any]:
        import tomllib  # here: a cached file needs no parser (importing it compiles regular expressions)

        return tomllib.loads(text)

    try:
        data = parse() if cached_from is None else cached_parse(path, cached_from, parse)
    except ValueError as exc:  # tomllib.TOMLDecodeError, the only error loads raises for a str
        at = _TOML_POSITION.search(str(exc))
        line = f", line {at.group(1)}" if at else ""
        raise error(f"{what} {str(path)!r}{line} is not valid TOML: {exc}.") from exc
    return TomlFile(path, what, data, text)


def load_toml(path: Path, what: str, *, error: ErrorFactory = UsageError, limit: int = MAX_INPUT_FILE,
              not_a: str | None = None, cache: bool = False) -> TomlFile:
    """Read and parse the TOML file at ``path`` (at most ``limit`` bytes: ``/dev/zero`` is refused, not
    read until memory runs out). Every problem is ``error(explanation)``, the explanation naming the
    file as ``what 'path'``; ``not_a`` completes "it is not ..." for a file too large (default: a ``what``).
    ``cache`` (for shipped files) reads the parsed data from :mod:`dex_tui.asset_cache` when it can."""
    name = f"{what} {str(path)!r}"
    try:
        raw = read_bounded(path, limit)
    except FileNotFoundError as exc:
        raise error(f"{name} does not exist.") from exc
    except TooLarge as exc:
        raise error(f"{name} is {exc.strerror}; it is not {not_a or 'a ' + what}.") from None
    except OSError as exc:
        raise error(f"{name} cannot be read ({exc.strerror or exc}).") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name} is not UTF-8 text.") from exc
    return parse_toml(text, path, what, error=error, cached_from=raw if cache else None)
