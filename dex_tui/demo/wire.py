"""The fake cloud's request and reply types and the three services' error bodies.

Error shapes follow reference/domain.md: the identity platform's OAuth error JSON (error,
error_description with the AADSTS text, error_codes, timestamp, trace_id, correlation_id), Graph's
``{"error": {"code", "message", "innerError"}}`` and Defender for Endpoint's
``{"error": {"code", "message", "target"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from dex_tui.records import dataclass

JSON = "application/json; charset=utf-8"
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


@dataclass
class Request:
    """One request as the fake sees it, after the transport has been stripped away."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    service: str = ""  # login / graph / mde
    base: str = ""  # the public root the request came in on, e.g. https://graph.demo.test
    path: str = ""  # the path below ``base``, percent-decoded
    query: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    granted: frozenset[str] = frozenset()  # permissions of the bearer token, once checked

    @classmethod
    def parse(cls, method: str, url: str, headers: Any, body: bytes | str | None) -> Request:
        if isinstance(body, str):
            body = body.encode("utf-8")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(method=method.upper(), url=url, headers=CaseInsensitiveDict(headers or {}),
                   body=body or b"", path=unquote(parts.path), query=query)

    def form(self) -> dict[str, str]:
        try:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return {}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def bearer(self) -> str | None:
        value: str = self.headers.get("Authorization", "")
        if value[:7].lower() == "bearer ":
            return value[7:].strip()
        return None


@dataclass
class Reply:
    """What the fake answers. ``fault`` asks the transport to misbehave instead of answering:
    ``timeout`` (no answer in time), ``reset`` (connection reset) or ``truncated`` (the body stops
    short of its Content-Length)."""

    status: int
    headers: dict[str, str]
    body: bytes
    fault: str | None = None

    def __iter__(self) -> Iterator[Any]:  # ``status, headers, body = cloud.handle(...)``
        return iter((self.status, self.headers, self.body))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None,
               content_type: str = JSON) -> Reply:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Reply(status, {"Content-Type": content_type, **(headers or {})}, body)


def text_reply(status: int, text: str, content_type: str = "text/plain; charset=utf-8",
               headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": content_type, **(headers or {})}, text.encode("utf-8"))


def aad_error(status: int, error: str, code: int, text: str, *, now: str, trace_id: str,
              correlation_id: str, headers: dict[str, str] | None = None, **extra: Any) -> Reply:
    """The identity platform's error body (e.g. AADSTS70016 authorization_pending)."""
    stamp = now.replace("T", " ").replace("Z", "Z")
    description = (f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
                   f"\r\nTimestamp: {stamp}")
    payload = {"error": error, "error_description": description, "error_codes": [code], "timestamp": stamp,
               "trace_id": trace_id, "correlation_id": correlation_id,
               "error_uri": f"https://login.microsoftonline.com/error?code={code}", **extra}
    return json_reply(status, payload, headers)


def graph_error(status: int, code: str, message: str, *, now: str, request_id: str,
                client_request_id: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    inner = {"date": now.replace("Z", ""), "request-id": request_id,
             "client-request-id": client_request_id or request_id}
    return json_reply(status, {"error": {"code": code, "message": message, "innerError": inner}},
                      {"request-id": request_id, "client-request-id": client_request_id or request_id,
                       **(headers or {})})


def mde_error(status: int, code: str, message: str, *, request_id: str,
              headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": message, "target": request_id}},
                      {"request-id": request_id, **(headers or {})})
