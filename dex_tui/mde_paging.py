"""Paging the Defender for Endpoint API fast and politely: several ``$skip`` pages in flight at once,
within the API's documented rate limits, each parsed as it arrives.

The machines and antivirus APIs document ``$top`` (at most 10,000) and ``$skip`` (domain.md §4.14,
§4.15), so page *k* is ``$top=10000&$skip=10000*k`` and needs no earlier answer. The first page is
asked for alone (a small tenant costs one request, as before); when it says more follow (an
``@odata.nextLink``; its key in the raw answer is enough to start, before the parse confirms it), pages
are fetched ahead by helper threads while the caller parses the page in hand: one ahead at first, up
to :data:`WINDOW` as more pages keep coming. Pages reach the caller in order; the last one is the
first without a next link, so at most ``WINDOW - 1`` requests past the end are sent (none for a tenant
of one or two pages, unless a one-page answer carries the key's text in a device's field).

Every request to an endpoint waits for :class:`RateLimit` first: at most ``per_minute`` requests in
any 60 seconds and ``per_hour`` in any hour, shared by every read of the run's client (the limits are
the tenant's, not one read's). Requests sent by the helper threads are credited to the calling read.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

import requests

from dex_tui.graph import MDE, GraphClient, GraphError, Page
from dex_tui.records import dataclass
from dex_tui.url_origin import origin_problem

WINDOW = 2  # pages in flight at once after the first: each ~9 MB of JSON, held with its decoded text
_NEXT_LINK = b'"@odata.nextLink"'  # its key in an answer: a hint, looked for before the page is parsed
_MIN_ITEM_BYTES = 32  # a device's JSON is longer (its id alone is 40 characters): a smaller page is not full


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_hour: int


# Documented limits (domain.md §4.14, §4.15), by the API path they apply to.
LIMITS: Mapping[str, Limits] = {"/machines": Limits(100, 1_500), "/deviceavinfo": Limits(30, 1_000)}


class RateLimit:
    """A sliding-window limiter: ``acquire`` returns how long to wait before the next request may go,
    and records it as sent at that time (so concurrent callers queue up in turn)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0] <= now - 3600:
                self._sent.popleft()
            at = now
            if len(self._sent) >= self.limits.per_hour:
                at = max(at, self._sent[-self.limits.per_hour] + 3600)
            recent = [t for t in self._sent if t > at - 60]
            if len(recent) >= self.limits.per_minute:
                at = max(at, recent[-self.limits.per_minute] + 60)
            self._sent.append(at)
            return at - now


def limiter(client: GraphClient, path: str) -> RateLimit | None:
    """The limiter of an MDE API path for this client and every client derived from it (one signed-in
    run against one tenant); None for a path without documented limits."""
    limits = LIMITS.get(path)
    if limits is None:
        return None
    with client.rate_limits_lock:
        if path not in client.rate_limits:
            client.rate_limits[path] = RateLimit(limits)
        found: RateLimit = client.rate_limits[path]
        return found


MAX_PAGES = 1000  # 10 million devices: anything longer is an answer that never ends


@dataclass
class _Fetched:
    response: requests.Response
    url: str
    requests: int  # sent by the helper thread for this page (retries included)


@dataclass
class _Parsed:
    next_link: str | None
    items: int


def page_items(client: GraphClient, path: str, *, params: Mapping[str, Any], read: str,
               page_size: int) -> Iterator[Iterator[dict[str, Any]]]:
    """Each page's items of ``GET {mde}/api{path}`` (``params`` plus ``$top``/``$skip``), in order.

    Take each page's items before asking for the next page. Every next link is checked as
    :meth:`GraphClient.iter_page_items` checks it (same origin, not repeating, not past
    :data:`MAX_PAGES`), and refused ones raise the same :class:`GraphError`. A page shorter than
    ``page_size`` that still has a next link is not what ``$skip`` paging gives: from there on the next
    links are followed one by one, as the service asks. A 404 on the first page raises as usual.
    """
    limit = limiter(client, path)

    def get(url: str) -> _Fetched:
        if limit is not None:
            client.wait(limit.acquire())
        before = client.thread_requests()
        response = client.send("GET", MDE, url, read=read)
        return _Fetched(response, url, client.thread_requests() - before)

    def skip_url(number: int) -> str:
        return client.url(MDE, path, {**params, "$top": page_size, **({"$skip": number * page_size} if number else {})})

    pages = 1
    first = get(skip_url(0))  # sent from this very thread: already counted
    pool: cf.ThreadPoolExecutor | None = None
    ahead: deque[cf.Future[_Fetched]] = deque()
    number = 1
    body = first.response.content or b""
    if len(body) >= page_size * _MIN_ITEM_BYTES and _NEXT_LINK in body:
        # A full page that names a next link (the parse below says for sure): the second page is fetched
        # while this one is parsed. If the page turns out to be the last, that is one request past the end.
        pool = cf.ThreadPoolExecutor(max_workers=WINDOW, thread_name_prefix=f"dex-{read}-page")
        ahead.append(pool.submit(get, skip_url(number)))
        number += 1
    finished = False
    try:
        parsed = yield from _parse(client, first, read)
        while parsed.next_link is not None and parsed.items >= page_size:
            if pool is None:
                pool = cf.ThreadPoolExecutor(max_workers=WINDOW, thread_name_prefix=f"dex-{read}-page")
            # Slow start: one page ahead after the first, then more as more pages keep coming, so a
            # tenant of two pages wastes no request and a bigger one at most WINDOW - 1.
            while len(ahead) < min(WINDOW, pages):
                ahead.append(pool.submit(get, skip_url(number)))
                number += 1
            fetched = ahead.popleft().result()
            client.credit_requests(fetched.requests)
            pages += 1
            _bound(client, pages, fetched.url, read)
            parsed = yield from _parse(client, fetched, read)
        finished = True
    finally:
        if finished:
            _past_the_end(ahead, client)
        else:  # cancelled or failed: leave at once; the helpers stop at their next cancellation check
            for future in ahead:
                future.cancel()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    seen: set[str] = set()
    while parsed.next_link is not None:  # a short page with a next link: follow the links one by one
        url = parsed.next_link
        if url in seen:
            raise GraphError(f"GET {_endpoint(url)}: the next page link repeats itself.", kind="malformed",
                             endpoint=_endpoint(url), read=read, title="Malformed answer")
        seen.add(url)
        pages += 1
        _bound(client, pages, url, read)
        parsed = yield from _parse(client, get(url), read)


def _endpoint(url: str) -> str:
    return url.split("?", 1)[0].split("//", 1)[-1]


def _bound(client: GraphClient, pages: int, url: str, read: str) -> None:
    if pages > MAX_PAGES:
        raise GraphError(f"GET {_endpoint(url)}: more than {MAX_PAGES} pages.", kind="malformed",
                         endpoint=_endpoint(url), read=read, title="Too many pages")


def _past_the_end(ahead: deque[cf.Future[_Fetched]], client: GraphClient) -> None:
    """Pages asked for past the end: already on their way, their requests are still the read's."""
    for future in ahead:
        if future.cancel():
            continue
        try:
            client.credit_requests(future.result().requests)
        except GraphError:  # a page past the end that failed changes nothing counted
            continue


def _parse(client: GraphClient, fetched: _Fetched, read: str) -> Generator[Iterator[dict[str, Any]], None, _Parsed]:
    """Yield the page's items; return its next link (checked: same origin as the API) and its size."""
    page = Page(fetched.response, fetched.url, read)
    client.count_page(read)
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for item in page.items():
            count += 1
            yield item

    yield counted()
    for _ in counted():  # the rest, if the caller stopped early: the next link comes after the items
        pass
    next_link = page.members.get("@odata.nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise page.malformed("'@odata.nextLink' is not a URL")
    problem = origin_problem(next_link, client.base_url(MDE)) if next_link else None
    if problem:
        endpoint = _endpoint(fetched.url)
        raise GraphError(f"GET {endpoint}: the next page link was refused: {problem}; the token is sent only to "
                         "the API it was meant for.", kind="malformed", endpoint=endpoint, read=read,
                         title="Unsafe next link",
                         next_step="Check --graph-url and --mde-url, and any proxy that rewrites answers.")
    return _Parsed(next_link or None, count)
