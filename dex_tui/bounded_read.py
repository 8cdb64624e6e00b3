"""Every HTTP answer ends, within bounds: a size cap (on the wire and once inflated) and a whole-request
deadline.

``requests`` reads a body whole into memory, however large (a 2 GB stream, or 2 MB of gzip inflating
to 2 GB), and its timeout applies to each socket read, so a server sending one byte every few
seconds keeps a request alive for ever. Here the body is read in chunks and given up past
:data:`MAX_BODY_BYTES` on the wire or :data:`MAX_INFLATED_BYTES` inflated (:class:`ResponseTooLarge`),
and every request has a deadline for the whole exchange, headers and body together: when it passes,
a watchdog thread shuts the connection's socket down, which wakes the blocked read, and the request
fails with :class:`DeadlineExceeded`. Both are ``requests`` exceptions, so every caller that handles
network failures handles them; their text says what happened, never the request (it holds tokens).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MiB = 1024 * 1024
MAX_BODY_BYTES = 64 * MiB  # on the wire (compressed, if it is)
MAX_INFLATED_BYTES = 64 * MiB  # once decompressed; a page of 10,000 devices is about 9 MB
DEFAULT_DEADLINE = 120.0  # seconds for a whole request: connection, headers and body
_CHUNK = 64 * 1024


class TransportLimit(requests.RequestException):
    """A bound of this module was reached; ``what`` is a plain sentence without any request data."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return self.what


class ResponseTooLarge(TransportLimit):
    """The answer is larger than dex-tui reads (``limit`` bytes)."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what)
        self.limit = limit


class DeadlineExceeded(TransportLimit, requests.Timeout):
    """The whole request took longer than its deadline (``seconds``)."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(what)
        self.seconds = seconds


def mib(count: int) -> str:
    return f"{count // MiB} MiB" if count % MiB == 0 else f"{count:,} bytes"


# -- the deadline -------------------------------------------------------------------------------


class _Watchdog:
    """One daemon thread that shuts down the sockets of connections whose request ran out of time."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, HTTPConnection]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, conn: HTTPConnection, when: float) -> int:
        with self._lock:
            token = next(self._ids)
            heapq.heappush(self._heap, (when, token, conn))
            self._live.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dex-tui deadline", daemon=True)
                self._thread.start()
            self._lock.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._lock:
            self._live.discard(token)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._lock.wait()
                    continue
                when, token, conn = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(token)
            _cut(conn)


def _cut(conn: HTTPConnection) -> None:
    """Wake a read blocked on ``conn``: shut its socket down at the OS level (not the TLS layer, which the
    reading thread is using)."""
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
_current = threading.local()


class _Scope:
    def __init__(self, when: float) -> None:
        self.when = when
        self.tokens: list[int] = []


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[float | None]:
    """Requests sent from this thread inside the block end by ``seconds`` from now (None: no deadline)."""
    outer: _Scope | None = getattr(_current, "scope", None)
    if seconds is None or outer is not None:  # a nested request keeps the outer, earlier deadline
        yield outer.when if outer else None
        return
    scope = _Scope(time.monotonic() + seconds)
    _current.scope = scope
    try:
        yield scope.when
    finally:
        _current.scope = None
        for token in scope.tokens:
            _WATCHDOG.disarm(token)


def expired(when: float | None) -> bool:
    return when is not None and time.monotonic() >= when


def _arm(conn: HTTPConnection) -> None:
    scope: _Scope | None = getattr(_current, "scope", None)
    if scope is not None:
        scope.tokens.append(_WATCHDOG.arm(conn, scope.when))


class _DeadlineHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _arm(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _arm(self)
        super().request(*args, **kwargs)


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


# -- the size cap -------------------------------------------------------------------------------


def read_body(response: requests.Response, *, max_bytes: int = MAX_BODY_BYTES,
              max_inflated: int = MAX_INFLATED_BYTES) -> None:
    """Read a streamed ``response``'s body into ``response.content``, chunk by chunk, giving up with
    :class:`ResponseTooLarge` past ``max_bytes`` on the wire or ``max_inflated`` decompressed."""
    if response._content is not False:  # already read (the in-process demo adapter)
        if len(response._content or b"") > max_inflated:
            raise ResponseTooLarge(f"the answer is larger than {mib(max_inflated)}", max_inflated)
        return
    host = _host_of(response)
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        response.close()
        raise ResponseTooLarge(f"{host} announced an answer of {int(declared):,} bytes, larger than the "
                               f"{mib(max_bytes)} dex-tui reads", max_bytes)
    raw = response.raw
    wire = getattr(raw, "tell", None)
    parts: list[bytes] = []
    total = 0
    try:
        for part in response.iter_content(_CHUNK):
            total += len(part)
            if total > max_inflated:
                raise ResponseTooLarge(f"{host} sent an answer larger than {mib(max_inflated)} once inflated "
                                       f"(dex-tui reads at most {mib(max_inflated)})", max_inflated)
            on_wire = wire() if callable(wire) else total
            if isinstance(on_wire, int) and on_wire > max_bytes:
                raise ResponseTooLarge(f"{host} sent an answer larger than {mib(max_bytes)} (dex-tui reads at "
                                       f"most {mib(max_bytes)})", max_bytes)
            parts.append(part)
    except ResponseTooLarge:
        response.close()
        raise
    response._content = b"".join(parts)
    response._content_consumed = True


def _host_of(response: requests.Response) -> str:
    from urllib.parse import urlsplit

    return urlsplit(response.url or "").hostname or "the server"
