"""The in-process transport: a ``requests`` adapter that hands requests to a FakeCloud, with no socket
and no TLS. It raises the real ``requests`` exceptions for the timeout, connection-reset and
truncated-body knobs, so client code meets exactly what a real network would give it.
"""

from __future__ import annotations

import io
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError

from dex_tui.demo.cloud import FakeCloud
from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            424: "Failed Dependency", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class DemoAdapter(BaseAdapter):
    """Answers every request from ``cloud.handle``."""

    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__()
        self.cloud = cloud

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        body: Any = request.body
        if hasattr(body, "read"):
            body = body.read()
        reply = self.cloud.handle(request.method or "GET", request.url or "", dict(request.headers), body)
        if reply.fault == "timeout":
            raise requests.exceptions.ReadTimeout(
                f"HTTPSConnectionPool: Read timed out. (read timeout={_read_timeout(timeout)})", request=request)
        if reply.fault == "reset":
            raise requests.exceptions.ConnectionError(
                ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
                request=request)
        if reply.fault == "truncated":
            half = len(reply.body) // 2
            raise requests.exceptions.ChunkedEncodingError(
                ProtocolError(f"Connection broken: IncompleteRead({half} bytes read, "
                              f"{len(reply.body) - half} more expected)"), request=request)
        response = requests.Response()
        response.status_code = reply.status
        response.reason = _REASONS.get(reply.status, "")
        response.headers = CaseInsensitiveDict({**reply.headers, "Content-Length": str(len(reply.body))})
        response._content = reply.body
        response.raw = io.BytesIO(reply.body)
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # requests types it as its HTTPAdapter
        return response

    def close(self) -> None:
        return None


def _read_timeout(timeout: Any) -> Any:
    if isinstance(timeout, tuple):
        return timeout[1]
    return timeout


def mount_demo(session: requests.Session, cloud: FakeCloud) -> None:
    """Route the three demo hosts (settings.DEMO_*_URL) of ``session`` to ``cloud``."""
    adapter = DemoAdapter(cloud)
    for url in (DEMO_LOGIN_URL, DEMO_GRAPH_URL, DEMO_MDE_URL):
        session.mount(url.rstrip("/") + "/", adapter)
