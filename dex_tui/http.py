"""The one HTTP session of a run: timeouts on every call, TLS verification always on.

MSAL and the Graph client share it, so the demo adapter, the CA bundle and the timeouts are set in
one place. ``verify`` is passed per request because ``REQUESTS_CA_BUNDLE`` would otherwise override
``Session.verify`` (reference/tech.md §1.7).
"""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from dex_tui import TOOL_NAME, __version__
from dex_tui.bounded_read import (
    DEFAULT_DEADLINE,
    MAX_BODY_BYTES,
    MAX_INFLATED_BYTES,
    POOL_CLASSES,
    DeadlineExceeded,
    TransportLimit,
    deadline,
    expired,
    read_body,
)
from dex_tui.safety import clean_text
from dex_tui.shutdown import on_exit

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class HttpSession(requests.Session):
    """A ``requests.Session`` that always sets a timeout and a verification bundle, follows no redirect,
    caps every answer's size and gives every request a deadline (``dex_tui.bounded_read``)."""

    def __init__(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, verify: str | bool = True,
                 deadline: float = DEFAULT_DEADLINE, max_bytes: int = MAX_BODY_BYTES,
                 max_inflated: int = MAX_INFLATED_BYTES) -> None:
        super().__init__()
        if verify is False:
            raise ValueError("TLS verification cannot be switched off")
        self.timeout = timeout
        self.verify_bundle = verify
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_inflated = max_inflated
        self.headers["User-Agent"] = f"{TOOL_NAME}/{__version__}"
        self.mount("https://", OneTrustStoreAdapter())

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if kwargs.get("verify") in (None, False):
            kwargs["verify"] = self.verify_bundle
        # A redirect would carry the request (a token, a refresh token, a device code) to wherever the
        # server says, even plain http: none is followed, and a 3xx answer is refused below.
        kwargs["allow_redirects"] = False
        stream = bool(kwargs.get("stream"))
        kwargs["stream"] = True  # the body is read here, within its bounds
        host = urlsplit(url.decode() if isinstance(url, bytes) else url).hostname or "the server"
        with deadline(self.deadline) as when:
            try:
                response = super().request(method, url, *args, **kwargs)
                if 300 <= response.status_code < 400:
                    response.close()
                    raise RedirectRefused(response.status_code, host, response.headers.get("Location"))
                if not stream:
                    read_body(response, max_bytes=self.max_bytes, max_inflated=self.max_inflated)
            except TransportLimit:
                raise
            except (requests.RequestException, OSError) as exc:
                if expired(when):
                    raise DeadlineExceeded(f"{host} did not send its whole answer within {self.deadline:g} "
                                           "seconds", self.deadline) from None
                if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
                    raise requests.ConnectionError(f"the connection to {host} failed") from None
                raise
        return response


class RedirectRefused(TransportLimit):
    """A 3xx answer: dex-tui follows no redirect (the request is never sent to the new address)."""

    def __init__(self, status: int, host: str, location: str | None) -> None:
        target = urlsplit(location or "")
        where = f" to {clean_text(target.hostname or location or '?', 80)}" if location else ""
        super().__init__(f"{host} answered with a redirect (HTTP {status}){where}; dex-tui follows no "
                         "redirect, so nothing was sent there")
        self.status = status
        self.location = location


class OneTrustStoreAdapter(HTTPAdapter):
    """HTTPS with the trusted CAs loaded once per bundle, into one SSLContext shared by its connections.

    Left to itself, requests has urllib3 load the bundle (~150 certificates, 15-40 ms of CPU) again for
    every new connection, and a check run opens about ten at once. Verification is unchanged: the
    same bundle requests would use (``verify``: True is its default bundle, a path is that bundle),
    certificates and host names required.
    """

    def __init__(self) -> None:
        super().__init__()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES  # connections that honour the deadline

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def _context(self, verify: Any) -> ssl.SSLContext | None:
        """The shared context for the bundle ``verify`` names; None when it names no readable file or
        folder, and requests then loads (and checks) the bundle itself as usual."""
        where = requests.utils.DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        if not isinstance(where, str) or not where or not os.path.exists(where):
            return None
        with self._lock:
            if where not in self._contexts:
                from urllib3.util.ssl_ import create_urllib3_context

                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                if os.path.isdir(where):
                    context.load_verify_locations(capath=where)
                else:
                    context.load_verify_locations(cafile=where)
                self._contexts[where] = context
            return self._contexts[where]

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        context = self._context(verify) if host_params.get("scheme") == "https" else None
        if context is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        context = self._context(verify) if url.lower().startswith("https") else None
        if context is not None and getattr(conn, "conn_kw", {}).get("ssl_context") is context:
            conn.ca_certs = None  # the pool's shared context already trusts them: no reload per connection
            conn.ca_cert_dir = None


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date); None when absent."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


class TlsFailure(NamedTuple):
    """A TLS failure in words: a title, what happened to ``host``, and what to do."""

    title: str
    explanation: str
    next_step: str


_TRUST_STEP = ("If a proxy or your organisation inspects TLS, pass its CA certificate with --ca-bundle FILE "
               "(added to the public roots), or point REQUESTS_CA_BUNDLE at a trust store that holds it, "
               "such as the system's (/etc/ssl/certs/ca-certificates.crt on Debian and Ubuntu).")


def tls_failure(exc: BaseException, host: str) -> TlsFailure:
    """Name a TLS failure (``requests``' SSLError) for what it is: a certificate signed by no trusted CA, one
    for another host name, an expired one, or a server that does not speak TLS there."""
    text = str(exc).lower()
    if "mismatch" in text or "not valid for" in text or "doesn't match" in text:
        return TlsFailure("Certificate for another host",
                          f"{host} presented a TLS certificate issued for another host name, so it cannot be "
                          "trusted to be that host.",
                          "Check the host in the URL (--login-url, --graph-url, --mde-url). " + _TRUST_STEP)
    if "expired" in text or "not yet valid" in text:
        return TlsFailure("Certificate expired",
                          f"The TLS certificate of {host} has expired or is not valid yet.",
                          "Check this machine's clock; if it is right, the server's certificate must be renewed.")
    if "certificate verify failed" in text or "certificate" in text:
        return TlsFailure("Certificate not trusted",
                          f"The TLS certificate of {host} is not trusted: no certificate authority this "
                          "machine trusts signed it.", _TRUST_STEP)
    return TlsFailure("TLS connection failed",
                      f"The TLS connection to {host} failed ({type(exc).__name__}): it may not speak HTTPS "
                      "on that port.", "Check the URL's host and port, then try again.")


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
    on_exit(lambda: _remove_quietly(name))  # also after Ctrl+C, SIGTERM and SIGHUP (dex_tui.shutdown)
    return name


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        return


def build_session(ca_bundle: Path | None = None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                  **limits: Any) -> HttpSession:
    """The session for a real tenant (the demo mounts its adapter on top, see ``dex_tui.demo``);
    ``limits`` are HttpSession's ``deadline``, ``max_bytes`` and ``max_inflated``."""
    verify: str | bool = combined_ca_bundle(ca_bundle) if ca_bundle else True
    session = HttpSession(timeout=timeout, verify=verify, **limits)
    session.trust_env = True  # proxies from the environment apply; verify is set per request above
    # With trust_env and no auth of its own, requests reads ~/.netrc for every request and a matching
    # (or `default`) entry *replaces* the Authorization header: the person's netrc password would go to
    # the identity platform and to Graph in place of the token. An auth that changes nothing stops it.
    session.auth = _HeadersAsGiven()
    return session


class _HeadersAsGiven(requests.auth.AuthBase):
    """The request's own Authorization header (a bearer token, or none), never one from ~/.netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request
