"""Whether a link a server sent (``@odata.nextLink``) may receive the token: the very origin it came from.

The origin is decided the way the connection will be made, not by a friendlier parser: ``urllib``'s
``urlsplit`` reads ``https://other:443\\@graph/x`` as host ``graph``, while ``requests`` (urllib3)
connects to ``other``. So a link is refused outright when it holds anything two parsers could read
differently (a backslash, userinfo, a control character, a space before the path), and otherwise both parsers
must agree with the base on scheme (https), host and port.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from urllib3.util import parse_url

from dex_tui.safety import clean_text

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _both_origins(url: str) -> tuple[tuple[str, str, int | None], tuple[str, str, int | None]]:
    """(scheme, host, port) as ``urllib`` reads ``url`` and as urllib3 (the connection) reads it."""
    split = urlsplit(url)
    parsed = parse_url(url)
    scheme_a = (split.scheme or "").lower()
    scheme_b = (parsed.scheme or "").lower()
    return ((scheme_a, (split.hostname or "").lower(), split.port or _DEFAULT_PORTS.get(scheme_a)),
            (scheme_b, (parsed.host or "").lower().strip("[]"), parsed.port or _DEFAULT_PORTS.get(scheme_b)))


def origin_problem(link: str, base: str) -> str | None:
    """Why ``link`` must not be followed with the credentials of ``base``, or None when it is the same
    https origin for every parser. The reason is a plain phrase, safe to show (the host is cleaned)."""
    if any(ch == "\\" for ch in link):
        return "it holds a backslash, which parsers read differently"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in link):
        return "it holds a control character"
    authority = link.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if any(ch.isspace() for ch in authority):  # a space in the path or query is only quoted; not here
        return "it holds a space before the path"
    try:
        link_views = _both_origins(link)
        base_view = _both_origins(base)[1]
        parsed = parse_url(link)
        split = urlsplit(link)
    except ValueError:
        return "it is not a valid URL"
    if parsed.auth is not None or "@" in (split.netloc or ""):
        return "it carries a user name or password before the host"
    for scheme, host, port in link_views:
        if scheme != "https":
            return f"it is not https ({clean_text(scheme or 'no scheme', 20)})"
        if (host, port) != (base_view[1], base_view[2]):
            shown = clean_text(f"{host or '?'}:{port}" if port else host or "?", 80)
            return f"it points to another host or port ({shown})"
    return None
