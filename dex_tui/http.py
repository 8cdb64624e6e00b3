"""The one HTTP session of a run: timeouts on every call, TLS verification always on.

MSAL and the Graph client share it, so the demo adapter, the CA bundle and the timeouts are set in
one place. ``verify`` is passed per request because ``REQUESTS_CA_BUNDLE`` would otherwise override
``Session.verify`` (reference/tech.md §1.7).
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path
from typing import Any

import requests

from dex_tui import TOOL_NAME, __version__

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class HttpSession(requests.Session):
    """A ``requests.Session`` that always sets a timeout and a verification bundle."""

    def __init__(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, verify: str | bool = True) -> None:
        super().__init__()
        if verify is False:
            raise ValueError("TLS verification cannot be switched off")
        self.timeout = timeout
        self.verify_bundle = verify
        self.headers["User-Agent"] = f"{TOOL_NAME}/{__version__}"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if kwargs.get("verify") in (None, False):
            kwargs["verify"] = self.verify_bundle
        return super().request(method, url, *args, **kwargs)


def combined_ca_bundle(extra_ca: Path) -> str:
    """A private PEM file holding the system's trusted CAs plus ``extra_ca``.

    ``--ca-bundle`` adds a CA to what is trusted; it never replaces the public roots.
    """
    parts: list[str] = []
    system = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not system or not Path(system).is_file():
        try:
            import certifi

            system = certifi.where()
        except ImportError:  # pragma: no cover - certifi ships with requests
            system = None
    if system and Path(system).is_file():
        parts.append(Path(system).read_text(encoding="utf-8", errors="replace"))
    parts.append(extra_ca.read_text(encoding="utf-8", errors="replace"))
    handle, name = tempfile.mkstemp(prefix="dex-tui-ca-", suffix=".pem")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(parts))
    atexit.register(_remove_quietly, name)
    return name


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        return


def build_session(ca_bundle: Path | None = None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> HttpSession:
    """The session for a real tenant (the demo mounts its adapter on top, see ``dex_tui.demo``)."""
    verify: str | bool = combined_ca_bundle(ca_bundle) if ca_bundle else True
    session = HttpSession(timeout=timeout, verify=verify)
    session.trust_env = True  # proxies and .netrc still apply; verify is set per request above
    return session
