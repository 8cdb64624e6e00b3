"""A tiny scripted ``requests`` adapter for unit tests of the Graph client (no fake tenant needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from dex_tui.graph import GraphClient
from dex_tui.http import HttpSession
from dex_tui.settings import Endpoints

ENDPOINTS = Endpoints("https://login.unit.test", "https://graph.unit.test", "https://mde.unit.test")
TOKEN = "eyJ0eXAi.SECRET-TOKEN-VALUE.sig"


@dataclass
class Seen:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    timeout: Any


Reply = tuple[int, dict[str, str], Any]  # status, headers, body (dict/list -> JSON; str/bytes raw)
Handler = Callable[[Seen], Reply | BaseException]


@dataclass
class ScriptedAdapter(BaseAdapter):
    handler: Handler
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        parts = urlsplit(request.url or "")
        body: Any = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if isinstance(body, str) and body.startswith(("{", "[")):
            body = json.loads(body)
        seen = Seen(request.method or "", request.url or "", parts.path, parse_qs(parts.query),
                    dict(request.headers), body, timeout)
        self.seen.append(seen)
        reply = self.handler(seen)
        if isinstance(reply, BaseException):
            raise reply
        status, headers, payload = reply
        response = requests.Response()
        response.status_code = status
        if isinstance(payload, (dict, list)):
            content = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        elif isinstance(payload, str):
            content = payload.encode()
        else:
            content = payload or b""
        response._content = content
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        return None


def make_client(handler: Handler, **kwargs: Any) -> tuple[GraphClient, ScriptedAdapter, list[float]]:
    """A client over a session with ``handler`` mounted on the unit-test hosts; sleeps are recorded."""
    adapter = ScriptedAdapter(handler)
    session = HttpSession()
    for url in (ENDPOINTS.graph_url, ENDPOINTS.mde_url):
        session.mount(url + "/", adapter)
    sleeps: list[float] = []
    kwargs.setdefault("sleep", sleeps.append)
    client = GraphClient(session, ENDPOINTS, graph_token=lambda: TOKEN, mde_token=lambda: "MDE-" + TOKEN,
                         **kwargs)
    return client, adapter, sleeps
