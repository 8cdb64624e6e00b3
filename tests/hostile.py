"""A hostile server on loopback: the fake cloud over HTTPS (``DemoServer``), with chosen requests answered
by an attack instead (a redirect, a huge or compressed body, a trickle, a hang, a wrong-shape JSON, a
link to another host), written on the real socket.

``HostileServer(scenario).start()`` then ``server.attack("GET", "/mde/api/machines", action)``: every
request whose method matches and whose path starts with the given one runs ``action(handler)`` (a
``BaseHTTPRequestHandler``) instead of the fake cloud. ``server.seen`` records ``(method, path,
headers)`` of every request, attacked or not, so a test can tell where a token went. A plain second
listener (``Listener``) plays "another host" and records what reaches it.

Advanced hunting is refused (403) unless ``hunting=True``: the device reads then page
``/api/machines`` and ``/api/deviceavinfo``, the paths the attacks target.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from dex_tui.demo import DemoServer, FakeCloud, Scenario, load_scenario
from dex_tui.demo.server import _Handler

Action = Callable[[BaseHTTPRequestHandler], None]


class HostileServer(DemoServer):
    """The fake cloud on loopback HTTPS with per-request attacks (see the module docstring)."""

    def __init__(self, scenario: Scenario | str = "ready", *, hunting: bool = False, **kwargs: Any) -> None:
        loaded = load_scenario(scenario) if isinstance(scenario, str) else scenario
        if not hunting:
            loaded = loaded.with_faults({"endpoint": "graph.huntingQuery", "kind": "status", "status": 403,
                                         "count": 0})
        super().__init__(FakeCloud(loaded, sleep=lambda seconds: None), **kwargs)
        self.attacks: list[tuple[str, str, Action]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def start(self) -> HostileServer:
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass = _HostileHandler
        return self

    def attack(self, method: str, path: str, action: Action) -> HostileServer:
        """Answer requests with ``method`` ("*": any) whose path holds ``path`` with ``action``."""
        with self.lock:
            self.attacks.append((method.upper(), path, action))
        return self

    def action_for(self, method: str, path: str) -> Action | None:
        with self.lock:
            for want_method, prefix, action in self.attacks:
                if want_method in (method, "*") and prefix in path:
                    return action
        return None

    def requests_to(self, part: str, method: str = "*") -> int:
        """How many requests came for a path holding ``part`` (with ``method``, or any)."""
        with self.lock:
            return sum(1 for seen_method, path, _ in self.seen if part in path and method in ("*", seen_method))


class _HostileHandler(_Handler):
    def _serve(self) -> None:
        owner: HostileServer = self.server.owner  # type: ignore[assignment]
        with owner.lock:
            owner.seen.append((self.command, self.path, dict(self.headers.items())))
        action = owner.action_for(self.command, self.path)
        if action is None:
            super()._serve()
            return
        length = int(self.headers.get("Content-Length") or 0)
        self.request_body = self.rfile.read(length) if length else b""
        action(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


# -- attacks ------------------------------------------------------------------------------------------


def reply(status: int, body: bytes | str, headers: dict[str, str] | None = None) -> Action:
    """A whole answer: ``status``, ``headers`` and ``body`` with its Content-Length."""
    data = body.encode() if isinstance(body, str) else body

    def act(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return act


def json_reply(value: Any, status: int = 200) -> Action:
    return reply(status, json.dumps(value), {"Content-Type": "application/json"})


def rewrite(change: Callable[[Any], Any]) -> Action:
    """The fake cloud's own answer, its JSON body passed through ``change`` (a wrong shape, a bad value)."""

    def act(handler: BaseHTTPRequestHandler) -> None:
        owner: HostileServer = handler.server.owner  # type: ignore[attr-defined]
        url = f"https://127.0.0.1:{owner.port}{handler.path}"
        answer = owner.cloud.handle(handler.command, url, dict(handler.headers.items()),
                                    handler.request_body)  # type: ignore[attr-defined]
        body = json.dumps(change(json.loads(answer.body))).encode()
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        reply(answer.status, body, headers)(handler)

    return act


def redirect(status: int, location: str) -> Action:
    return reply(status, b"", {"Location": location})


def endless_json(prefix: bytes, item: bytes, chunk_items: int = 4096) -> Action:
    """A JSON array that never ends (chunked), until the client hangs up: ``prefix`` then ``item,`` for
    ever. ``sent`` on the action counts the bytes written."""
    counter = {"bytes": 0}

    def act(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = (item + b",") * chunk_items
        try:
            _chunk(handler, prefix)
            while True:
                _chunk(handler, block)
                counter["bytes"] += len(block)
        except OSError:
            return

    act.sent = counter  # type: ignore[attr-defined]
    return act


def gzip_bomb(prefix: bytes, item: bytes, inflated: int) -> Action:
    """A small gzip body (``Content-Encoding: gzip``) that inflates to about ``inflated`` bytes of a JSON
    page: ``prefix``, then ``item,`` repeated."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    block = (item + b",") * max(1, (1 << 20) // (len(item) + 1))
    parts = [packer.compress(prefix)]
    for _ in range(max(1, inflated // len(block))):
        parts.append(packer.compress(block))
    parts.append(packer.compress(item + b"]}"))
    parts.append(packer.flush())
    body = b"".join(parts)
    action = reply(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    action.size = len(body)  # type: ignore[attr-defined]
    return action


def trickle(head: bytes, every: float, stop: threading.Event) -> Action:
    """``head`` (status line, headers and body as raw bytes) one byte every ``every`` seconds, until the
    client hangs up or ``stop`` is set."""

    def act(handler: BaseHTTPRequestHandler) -> None:
        try:
            for byte in head:
                if stop.wait(every):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            return
        handler.close_connection = True

    return act


def hang(stop: threading.Event) -> Action:
    """No answer at all until ``stop`` is set."""

    def act(handler: BaseHTTPRequestHandler) -> None:
        stop.wait(600)
        handler.close_connection = True

    return act


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


class Listener:
    """"Another host": a plain TCP listener on 127.0.0.1 that records the first bytes of every connection
    (a TLS ClientHello, or a plaintext request with its headers) and closes it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                data = b""
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    try:
                        part = conn.recv(65536)
                    except OSError:
                        break
                    if not part:
                        break
                    data += part
                    if b"\r\n\r\n" in data:
                        break
                self.received.append(data)

    @property
    def connections(self) -> int:
        return len(self.received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def contains_any(haystacks: Iterable[bytes | str], needles: Iterable[str]) -> bool:
    texts = [h.decode("latin-1") if isinstance(h, bytes) else h for h in haystacks]
    return any(n and n in t for n in needles for t in texts)


