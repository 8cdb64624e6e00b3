"""Turn strings into Rich ``Text`` for display: never markup, escape sequences always neutralised.

Tenant strings (names, domains, policy names) go through :func:`tenant`, which also shortens them;
our own longer text goes through :func:`plain`, which keeps line breaks.
"""

from __future__ import annotations

from rich.text import Text

from dex_tui.safety import clean_text

_LONG = 100_000


def tenant(value: object, style: str = "", limit: int = 200) -> Text:
    """A tenant-supplied string as one line of Text (escapes shown, not obeyed; shortened)."""
    return Text(clean_text(value, limit=limit), style=style)


def plain(value: object, style: str = "") -> Text:
    """Any string as Text, line breaks kept; control characters and escapes are neutralised."""
    lines = ("" if value is None else str(value)).split("\n")
    return Text("\n".join(clean_text(line, limit=_LONG) for line in lines), style=style)
