"""Make tenant-supplied strings safe to show, and links safe to open or print.

Tenant strings (display names, domains, policy names) are data: control characters and ANSI/OSC
escape sequences are made visible instead of being sent to the terminal, bidirectional and invisible
format characters are shown by name (``⟨U+202E⟩``) so they cannot reorder or hide what an admin
reads, and very long values are shortened. Escaping for a given surface (Rich markup, HTML, Markdown) is the renderer's job; this
module removes what no surface should ever pass through. Links come only from an allowlist of
Microsoft hosts plus the endpoints the run was configured with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_TENANT_TEXT = 200

# ESC-introduced sequences (CSI, OSC, DCS, single-character), C1 controls and other C0 controls.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[PX^_][^\x1b]*(\x1b\\)?|.)?", re.S)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that reorder text (bidi embeddings, overrides, isolates and marks) or draw nothing: every
# format character (Unicode category Cf), the line and paragraph separators, and the rest of the
# Default_Ignorable_Code_Point set (fillers, joiners, variation selectors, tags). "Trojan Source"
# (CVE-2021-42574) is the attack: "Contoso\u202e..." can read as another name.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")

MICROSOFT_LINK_HOSTS: tuple[str, ...] = (
    "microsoft.com",
    "aka.ms",
    "office.com",
    "microsoft.us",
    "microsoftonline.com",
    "microsoftonline.us",
    "chinacloudapi.cn",
    "partner.microsoftonline.cn",
    "azure.com",
    "azure.us",
    "youtube.com",
)


def clean_text(value: object, limit: int = MAX_TENANT_TEXT) -> str:
    """A tenant string with escape sequences, control, bidi and invisible characters shown, not obeyed,
    and shortened.

    ``ESC`` becomes ``␛``, other controls ``�``, and a bidi or invisible format character its code
    point (``⟨U+202E⟩``), so the person can see something was there and what.
    """
    text = "" if value is None else str(value)
    text = _ESCAPES.sub(lambda m: "␛" + _CONTROLS.sub("", m.group(0)[1:]), text)
    text = text.replace("\n", " ").replace("\t", " ")
    text = _CONTROLS.sub("\ufffd", text)
    text = _INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group(0)):04X}⟩", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == root or host.endswith("." + root) for root in allowed)


def is_allowed_link(url: str, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether ``url`` may be opened or printed: https, and a Microsoft host or a configured endpoint."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return False
    if any(ch in url for ch in "\x1b\x07\n\r\t "):
        return False
    return _host_allowed(parts.hostname, (*MICROSOFT_LINK_HOSTS, *extra_hosts))


def endpoint_hosts(*urls: str) -> tuple[str, ...]:
    """The host names of configured endpoints, for :func:`is_allowed_link`."""
    return tuple(h for h in (urlsplit(u).hostname for u in urls if u) if h)
