"""A small client for Microsoft Graph and the Defender for Endpoint API over the run's one session.

It adds what every read needs: a bearer token per call, a timeout, retries (429 honouring
``Retry-After``, also inside ``$batch``; bounded exponential backoff on 5xx, timeouts and connection
errors), paging through ``@odata.nextLink``, ``$count`` with ``ConsistencyLevel: eventual``, and typed
errors that say what failed and what to do next. Wire shapes: reference/domain.md §4.1, §4.12.
Tokens never reach an error message or a log line.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from dex_tui.bounded_read import DeadlineExceeded, ResponseTooLarge, TransportLimit
from dex_tui.errors import CannotEvaluate, Interrupted
from dex_tui.http import parse_retry_after
from dex_tui.json_stream import value_elements_in_turns
from dex_tui.records import dataclass
from dex_tui.scopes import REQUIREMENTS
from dex_tui.settings import Endpoints
from dex_tui.url_origin import origin_problem

log = logging.getLogger(__name__)

GRAPH = "graph"
MDE = "mde"
GRAPH_VERSION = "v1.0"
BATCH_LIMIT = 20  # Graph JSON batching takes at most 20 requests (domain.md §4.1)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = (5.0, 30.0)

TokenProvider = Callable[..., str]  # () -> token; may accept force_refresh=True


class GraphError(CannotEvaluate):
    """A Graph or Defender for Endpoint call failed; says which call, why, and what to do.

    ``kind`` is one of ``http`` (an error status), ``network`` (no answer), ``malformed`` (an answer
    that is not what the API documents) or ``throttled`` (still 429 after the allowed retries).
    """

    default_title = "A tenant read failed"

    def __init__(self, explanation: str, *, kind: str, endpoint: str, status: int | None = None,
                 code: str = "", message: str = "", read: str | None = None, next_step: str = "",
                 title: str | None = None) -> None:
        super().__init__(explanation, title=title, next_step=next_step)
        self.kind = kind
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        self.read = read

    @property
    def permission(self) -> str | None:
        """The delegated permission the failed read needs (from ``scopes.REQUIREMENTS``)."""
        requirement = REQUIREMENTS.get(self.read or "")
        return requirement.permission if requirement else None

    def reason(self) -> str:
        """The whole story in one line: what failed, why, and the next step."""
        return f"{self.explanation} {self.next_step}".strip()


@dataclass(frozen=True)
class BatchRequest:
    """One GET inside a ``$batch``; ``url`` is relative to the Graph version root, e.g. ``/users``."""

    id: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResponse:
    id: str
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def build_query(params: Mapping[str, Any] | None) -> str:
    """An OData query string that keeps ``$``, quotes and commas readable and encodes spaces as %20."""
    if not params:
        return ""
    return urlencode({k: str(v) for k, v in params.items()}, safe="$'(),:", quote_via=quote)


def _endpoint_of(url: str) -> str:
    """``METHOD host/path`` without the query string (which may hold tenant data, never a token)."""
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{parts.path}"


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return None if value is None else str(value)
    return None


def _error_fields(body: Any) -> tuple[str, str]:
    """Graph's ``{"error": {"code", "message"}}`` (MDE uses the same shape); tolerant of anything else."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("code") or ""), str(error.get("message") or "")
        if isinstance(error, str):
            return error, str(body.get("error_description") or body.get("message") or "")
    return "", ""


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Counter:
    """A thread-safe request counter, with a per-thread count alongside, and the pages read per read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.local = threading.local()
        self.pages: dict[str, int] = {}

    def add(self) -> None:
        with self._lock:
            self.total += 1
        self.local.count = getattr(self.local, "count", 0) + 1

    def add_page(self, read: str) -> None:
        with self._lock:
            self.pages[read] = self.pages.get(read, 0) + 1


class GraphClient:
    """Calls Graph (``{graph_url}/v1.0/...``) and the MDE API (``{mde_url}/api/...``).

    ``session`` is the run's shared session (real or with the demo adapter mounted); the client never
    builds its own. ``graph_token`` and ``mde_token`` are called before every attempt, so a token
    refreshed by MSAL meanwhile is picked up. ``sleep`` is injectable so tests never wait; by default
    it waits in short slices and stops early when ``is_cancelled`` says so.
    """

    def __init__(self, session: requests.Session, endpoints: Endpoints, *, graph_token: TokenProvider,
                 mde_token: TokenProvider | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 max_attempts: int = 5, backoff_base: float = 0.5, backoff_cap: float = 8.0,
                 max_retry_after: float = 120.0, sleep: Callable[[float], None] | None = None,
                 is_cancelled: Callable[[], bool] | None = None) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session = session
        self.endpoints = endpoints
        self._tokens: dict[str, TokenProvider | None] = {GRAPH: graph_token, MDE: mde_token}
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.is_cancelled = is_cancelled or (lambda: False)
        self._counter = _Counter()
        self._token_locks = {GRAPH: threading.Lock(), MDE: threading.Lock()}
        # Per-API rate limiters (dex_tui.mde_paging), shared with derived clients: the limits are the tenant's.
        self.rate_limits: dict[str, Any] = {}
        self.rate_limits_lock = threading.Lock()

    @property
    def requests_made(self) -> int:
        """Requests sent so far by this client and every client derived from it (retries included)."""
        return self._counter.total

    def pages_read(self) -> dict[str, int]:
        """Pages received so far per read name (paged reads that name their read), by this client and
        every client derived from it: a front end shows a long read's progress with it."""
        with self._counter._lock:
            return dict(self._counter.pages)

    def count_page(self, read: str) -> None:
        """One more page received for ``read`` (:meth:`pages_read`); for pagers outside this class."""
        self._counter.add_page(read)

    def thread_requests(self) -> int:
        """Requests sent so far from the calling thread (to attribute requests to one read)."""
        return getattr(self._counter.local, "count", 0)

    def derive(self, *, is_cancelled: Callable[[], bool] | None = None) -> GraphClient:
        """A client sharing this one's session, tokens, settings and request counter, with its own
        cancellation (one per run, so a cancelled run never affects another)."""
        clone = copy.copy(self)
        clone.is_cancelled = is_cancelled or (lambda: False)
        return clone

    # -- URLs ---------------------------------------------------------------------------------

    def base_url(self, api: str) -> str:
        if api == GRAPH:
            return f"{self.endpoints.graph_url}/{GRAPH_VERSION}"
        if api == MDE:
            if not self.endpoints.mde_url:
                raise GraphError("This cloud has no Defender for Endpoint API, so device reads cannot run.",
                                 kind="network", endpoint="(no Defender for Endpoint API)",
                                 title="Defender for Endpoint API not available",
                                 next_step="Check devices in the Defender portal instead.")
            return f"{self.endpoints.mde_url}/api"
        raise ValueError(f"unknown API {api!r}")

    def url(self, api: str, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = build_query(params)
        return f"{self.base_url(api)}/{path.lstrip('/')}" + (f"?{query}" if query else "")

    # -- the one place that talks to the network ----------------------------------------------

    def _wait(self, seconds: float) -> None:
        if self.is_cancelled():
            raise Interrupted("The checks were cancelled.")
        if seconds <= 0:
            return
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                if self.is_cancelled():
                    break
                time.sleep(min(0.1, remaining))
        if self.is_cancelled():
            raise Interrupted("The checks were cancelled.")

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based) when the server gave no Retry-After."""
        return min(self.backoff_cap, self.backoff_base * (2.0 ** (attempt - 1)))

    def _token(self, api: str, *, force_refresh: bool = False) -> str:
        provider = self._tokens.get(api)
        if provider is None:
            raise GraphError("No token source is configured for the Defender for Endpoint API.",
                             kind="network", endpoint=self.base_url(api), title="Not signed in")
        # One token fetch per API at a time: concurrent reads would otherwise all miss MSAL's cache
        # together and each redeem the refresh token; serialised, the first fetch serves the rest.
        with self._token_locks[api]:
            if force_refresh and _takes_force_refresh(provider):
                return provider(force_refresh=True)
            return provider()

    def _count_request(self) -> None:
        self._counter.add()

    def credit_requests(self, count: int) -> None:
        """Attribute ``count`` requests sent by a helper thread to the calling thread (its read)."""
        self._counter.local.count = getattr(self._counter.local, "count", 0) + count

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` (a rate limit), stopping early with :class:`Interrupted` if cancelled."""
        self._wait(seconds)

    def send(self, method: str, api: str, url: str, *, read: str | None = None,
             headers: Mapping[str, str] | None = None, json_body: Any = None,
             accept: str = "application/json") -> requests.Response:
        """Send with retries; return the 2xx response or raise :class:`GraphError`."""
        endpoint = f"{method} {_endpoint_of(url)}"
        attempt = 0
        refresh = False  # a 401 gets one retry with a freshly fetched token
        refreshed = False
        while True:
            attempt += 1
            if self.is_cancelled():
                raise Interrupted("The checks were cancelled.")
            request_headers = {"Authorization": f"Bearer {self._token(api, force_refresh=refresh)}",
                               "Accept": accept}
            refresh = False
            request_headers.update(headers or {})
            self._count_request()
            try:
                response = self.session.request(method, url, headers=request_headers, json=json_body,
                                                timeout=self.timeout, allow_redirects=False)
            except TransportLimit as exc:  # too large, too slow, or a redirect: never worth another try
                raise _limit_error(exc, endpoint, read) from None
            except requests.exceptions.SSLError as exc:
                from dex_tui.http import tls_failure

                tls = tls_failure(exc, urlsplit(url).hostname or url)
                raise GraphError(f"{endpoint} failed: {tls.explanation}", kind="network", endpoint=endpoint,
                                 read=read, title=tls.title, next_step=tls.next_step) from exc
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                what = _network_failure(exc)
                if attempt < self.max_attempts:
                    delay = self.backoff(attempt)
                    log.info("%s: %s; retry %d in %.1fs", endpoint, what, attempt, delay)
                    self._wait(delay)
                    continue
                host = urlsplit(url).hostname or url
                raise GraphError(f"{endpoint} failed: {what} ({attempt} attempts).", kind="network",
                                 endpoint=endpoint, read=read, title=f"Cannot reach {host}",
                                 next_step=f"Check the network path to {host} (proxy, firewall, DNS, "
                                           "--ca-bundle) and run the checks again.") from exc
            except requests.RequestException as exc:
                raise GraphError(f"{endpoint} failed: {type(exc).__name__}.", kind="network",
                                 endpoint=endpoint, read=read) from exc
            status = response.status_code
            if status == 401 and not refreshed and _takes_force_refresh(self._tokens.get(api)):
                refresh = refreshed = True
                continue
            if status in RETRY_STATUSES and attempt < self.max_attempts:
                retry_in = self._retry_delay(response.headers, attempt, status)
                if retry_in is not None:
                    log.info("%s answered %d; retry %d in %.1fs", endpoint, status, attempt, retry_in)
                    self._wait(retry_in)
                    continue
            if 200 <= status < 300:
                return response
            raise self._http_error(endpoint, status, _safe_json(response), read, attempt,
                                   retry_after=_header(response.headers, "Retry-After"))

    def _retry_delay(self, headers: Mapping[str, Any] | None, attempt: int, status: int) -> float | None:
        """How long to wait before the next attempt; None when the wait asked for is too long."""
        asked = parse_retry_after(_header(headers, "Retry-After"))
        if asked is None:
            return self.backoff(attempt)
        if asked > self.max_retry_after:
            return None
        return asked if status == 429 or asked > 0 else self.backoff(attempt)

    def _http_error(self, endpoint: str, status: int, body: Any, read: str | None, attempts: int,
                    retry_after: str | None = None) -> GraphError:
        code, message = _error_fields(body)
        detail = f"{status}" + (f" {code}" if code else "") + (f": {_short(message)}" if message else "")
        requirement = REQUIREMENTS.get(read or "")
        if status == 403:
            need = ""
            if requirement:
                need = f" It needs the delegated permission {requirement.permission}"
                need += (f" and a directory role such as {requirement.reader_roles}." if requirement.reader_roles
                         else ".")
            consent = requirement.consent_role if requirement else "a Global Administrator"
            return GraphError(f"{endpoint} was refused ({detail}).{need}", kind="http", endpoint=endpoint,
                              status=status, code=code, message=message, read=read, title="Permission denied",
                              next_step=f"Grant the permission (admin consent: {consent}) or sign in with "
                                        "an account that holds the role, then run the checks again.")
        if status == 401:
            return GraphError(f"{endpoint} did not accept the token ({detail}).", kind="http",
                              endpoint=endpoint, status=status, code=code, message=message, read=read,
                              title="Not signed in", next_step="Sign in again (dex-tui signin) and retry.")
        if status == 429:
            wait = f"; the service asked to wait {retry_after} s" if retry_after else ""
            return GraphError(f"{endpoint} is throttled (429) after {attempts} attempts{wait}.",
                              kind="throttled", endpoint=endpoint, status=status, code=code, message=message,
                              read=read, title="Throttled", next_step="Wait a few minutes and run the checks again.")
        if status >= 500:
            return GraphError(f"{endpoint} failed on the service side ({detail}) after {attempts} attempts.",
                              kind="http", endpoint=endpoint, status=status, code=code, message=message,
                              read=read, title="Service error",
                              next_step="Try again later; if it persists, check the Microsoft 365 service health.")
        return GraphError(f"{endpoint} answered {detail}.", kind="http", endpoint=endpoint, status=status,
                          code=code, message=message, read=read, title="Unexpected answer",
                          next_step="Check the tenant, cloud and endpoint options, then retry.")

    # -- JSON helpers --------------------------------------------------------------------------

    def get_json(self, api: str, path: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, read: str | None = None) -> dict[str, Any]:
        url = self.url(api, path, params)
        return self._json_of(self.send("GET", api, url, read=read, headers=headers), url, read)

    def post_json(self, api: str, path: str, body: Any, *, read: str | None = None) -> dict[str, Any]:
        url = self.url(api, path)
        return self._json_of(self.send("POST", api, url, read=read, json_body=body), url, read)

    @staticmethod
    def _json_of(response: requests.Response, url: str, read: str | None) -> dict[str, Any]:
        endpoint = f"{response.request.method if response.request else 'GET'} {_endpoint_of(url)}"
        try:
            data = json.loads(response.content or b"null")
        except ValueError as exc:
            raise GraphError(f"{endpoint} answered {response.status_code} with a body that is not valid JSON.",
                             kind="malformed", endpoint=endpoint, status=response.status_code, read=read,
                             title="Malformed answer",
                             next_step="Retry; if it persists, a proxy may be rewriting the answer.") from exc
        if not isinstance(data, dict):
            raise GraphError(f"{endpoint} answered {response.status_code} with JSON that is not an object.",
                             kind="malformed", endpoint=endpoint, status=response.status_code, read=read,
                             title="Malformed answer")
        return data

    def iter_pages(self, api: str, path: str, *, params: Mapping[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None, read: str | None = None,
                   max_pages: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` (the whole URL).

        Custom headers such as ``ConsistencyLevel`` are sent again on every page (Graph does not carry
        them, domain.md §4.1). A next link to another origin is refused: the token must not leave the
        configured endpoint.
        """
        for items in self.iter_page_items(api, path, params=params, headers=headers, read=read,
                                          max_pages=max_pages):
            yield list(items)

    def iter_page_items(self, api: str, path: str, *, params: Mapping[str, Any] | None = None,
                        headers: Mapping[str, str] | None = None, read: str | None = None,
                        max_pages: int = 1000) -> Iterator[Iterator[dict[str, Any]]]:
        """As :meth:`iter_pages`, but each page is an iterator over its items, parsed one at a time.

        For big pages (10,000 devices, ~9 MB): no list of every item of a page is ever built, and the
        parse, done element by element, lets the UI thread take the GIL between elements instead of
        waiting out one long ``json.loads``. Take each page's items before asking for the next page.
        """
        url: str | None = self.url(api, path, params)
        seen: set[str] = set()
        pages = 0
        while url:
            if url in seen:
                raise GraphError(f"GET {_endpoint_of(url)}: the next page link repeats itself.",
                                 kind="malformed", endpoint=_endpoint_of(url), read=read, title="Malformed answer")
            seen.add(url)
            pages += 1
            if pages > max_pages:
                raise GraphError(f"GET {_endpoint_of(url)}: more than {max_pages} pages.", kind="malformed",
                                 endpoint=_endpoint_of(url), read=read, title="Too many pages")
            page = Page(self.send("GET", api, url, read=read, headers=headers), url, read)
            if read is not None:
                self.count_page(read)
            yield page.items()
            page.finish()  # the rest of the page, if the caller stopped early: its next link comes after
            next_link = page.members.get("@odata.nextLink")
            del page  # keep at most one page alive while the next one downloads (large tenants)
            if next_link is not None and not isinstance(next_link, str):
                raise GraphError(f"GET {_endpoint_of(url)}: '@odata.nextLink' is not a URL.", kind="malformed",
                                 endpoint=_endpoint_of(url), read=read, title="Malformed answer")
            problem = origin_problem(next_link, self.base_url(api)) if next_link else None
            if problem:
                raise GraphError(f"GET {_endpoint_of(url)}: the next page link was refused: {problem}; the "
                                 "token is sent only to the API it was meant for.",
                                 kind="malformed", endpoint=_endpoint_of(url), read=read, title="Unsafe next link",
                                 next_step="Check --graph-url and --mde-url, and any proxy that rewrites answers.")
            url = next_link or None

    def get_all(self, api: str, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, read: str | None = None,
                max_pages: int = 1000) -> list[dict[str, Any]]:
        """Every item of a collection (only for collections known to be small)."""
        items: list[dict[str, Any]] = []
        for page in self.iter_pages(api, path, params=params, headers=headers, read=read, max_pages=max_pages):
            items.extend(page)
        return items

    def count(self, path: str, *, filter: str | None = None, read: str | None = None) -> int:
        """``GET {path}/$count`` with ``ConsistencyLevel: eventual``: one request, a text/plain integer."""
        url = self.url(GRAPH, f"{path.rstrip('/')}/$count", {"$filter": filter} if filter else None)
        response = self.send("GET", GRAPH, url, read=read, headers={"ConsistencyLevel": "eventual"},
                             accept="text/plain")
        text = (response.content or b"").decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if not text.isdigit():
            raise GraphError(f"GET {_endpoint_of(url)} answered {_short(text, 40)!r}, not a count.",
                             kind="malformed", endpoint=_endpoint_of(url), status=response.status_code, read=read,
                             title="Malformed answer")
        return int(text)

    # -- $batch ----------------------------------------------------------------------------------

    def batch(self, items: Sequence[BatchRequest], *, read: str | None = None) -> dict[str, BatchResponse]:
        """Run GETs through Graph ``$batch`` (20 per batch) and map the answers by id.

        Inner 429s are retried (only the throttled requests) after the longest ``Retry-After`` among
        them; inner 5xx after the backoff. The outer request has its own retries in :meth:`send`.
        """
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("batch request ids must be unique")
        results: dict[str, BatchResponse] = {}
        for start in range(0, len(items), BATCH_LIMIT):
            results.update(self._batch_chunk(list(items[start:start + BATCH_LIMIT]), read))
        return results

    def _batch_chunk(self, items: list[BatchRequest], read: str | None) -> dict[str, BatchResponse]:
        pending = {item.id: item for item in items}
        done: dict[str, BatchResponse] = {}
        attempt = 0
        url = self.url(GRAPH, "$batch")
        # Graph answers 200 even when the inner requests fail, 401 included (a token that expired at the
        # server): such a chunk gets one silently refreshed token, as a lone request does in send().
        may_refresh = _takes_force_refresh(self._tokens.get(GRAPH))
        while pending:
            attempt += 1
            body = {"requests": [{"id": item.id, "method": "GET", "url": item.url,
                                  **({"headers": dict(item.headers)} if item.headers else {})}
                                 for item in pending.values()]}
            data = self._json_of(self.send("POST", GRAPH, url, read=read, json_body=body), url, read)
            answers = data.get("responses")
            if not isinstance(answers, list):
                raise GraphError("POST graph $batch answered without a 'responses' list.", kind="malformed",
                                 endpoint=_endpoint_of(url), read=read, title="Malformed answer")
            retry: dict[str, BatchResponse] = {}
            unauthorized: dict[str, BatchResponse] = {}
            for answer in answers:
                if not isinstance(answer, dict) or str(answer.get("id")) not in pending:
                    continue
                status = answer.get("status")
                parsed = BatchResponse(id=str(answer["id"]), status=status if isinstance(status, int) else 0,
                                       headers=answer.get("headers") or {}, body=answer.get("body"))
                if parsed.status == 401 and may_refresh:
                    unauthorized[parsed.id] = parsed
                elif parsed.status in RETRY_STATUSES and attempt < self.max_attempts:
                    retry[parsed.id] = parsed
                else:
                    done[parsed.id] = parsed
                    del pending[parsed.id]
            missing = [i for i in pending if i not in retry and i not in unauthorized]
            if missing:
                raise GraphError(f"POST graph $batch did not answer request(s) {', '.join(missing)}.",
                                 kind="malformed", endpoint=_endpoint_of(url), read=read, title="Malformed answer")
            if unauthorized:
                may_refresh = False
                self._token(GRAPH, force_refresh=True)  # the next POST carries the fresh token
                if not retry:
                    continue
            if not pending:
                break
            delays = [self._retry_delay(r.headers, attempt, r.status) for r in retry.values()]
            if any(d is None for d in delays):
                for parsed in retry.values():
                    done[parsed.id] = parsed
                break
            delay = max(d for d in delays if d is not None)
            log.info("$batch: %d inner request(s) throttled or failed; retry %d in %.1fs",
                     len(retry), attempt, delay)
            self._wait(delay)
        return done

    def batch_error(self, response: BatchResponse, url: str, read: str | None = None) -> GraphError:
        """The typed error for one failed inner response, as if the request had been sent alone."""
        return self._http_error(f"GET {_endpoint_of(self.url(GRAPH, url))}", response.status, response.body,
                                read, self.max_attempts, retry_after=_header(response.headers, "Retry-After"))


def _limit_error(exc: TransportLimit, endpoint: str, read: str | None) -> GraphError:
    """The read is ``unknown``, saying which bound the answer broke (dex_tui.bounded_read)."""
    if isinstance(exc, ResponseTooLarge):
        return GraphError(f"{endpoint} failed: {exc}.", kind="malformed", endpoint=endpoint, read=read,
                          title="Answer too large",
                          next_step="Retry later; if it persists, check --graph-url and --mde-url and any proxy on "
                                    "the way.")
    if isinstance(exc, DeadlineExceeded):
        return GraphError(f"{endpoint} failed: {exc}.", kind="network", endpoint=endpoint, read=read,
                          title="Answer too slow",
                          next_step="Check the network path (proxy, firewall) and run the checks again.")
    return GraphError(f"{endpoint} failed: {exc}.", kind="malformed", endpoint=endpoint, read=read,
                      title="Redirect refused",
                      next_step="Check --graph-url and --mde-url: they must name the API roots themselves.")


def _takes_force_refresh(provider: Any) -> bool:
    """Whether a token provider accepts ``force_refresh=`` (the runtime's getters do)."""
    if provider is None:
        return False
    try:
        return "force_refresh" in inspect.signature(provider).parameters
    except (TypeError, ValueError):
        return False


def _json_kind(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


def _safe_json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


class Page:
    """One collection page read from its JSON body element by element.

    :meth:`items` yields the members of the top-level object's ``value`` array that are objects, each
    parsed on its own (``JSONDecoder.raw_decode``); the object's other members (``@odata.nextLink``...)
    land in ``members`` as the parse passes them. Errors are the :class:`GraphError` a whole-body parse
    raises (not valid JSON, not an object, no ``value`` list), raised where the parse meets them.
    """

    def __init__(self, response: requests.Response, url: str, read: str | None) -> None:
        body = response.content or b"null"
        self.status = response.status_code
        self.method = response.request.method if response.request else "GET"
        self.url = url
        self.read = read
        self.members: dict[str, Any] = {}
        try:
            text = body.decode(json.detect_encoding(body), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise self._invalid() from exc
        self._parse = self._elements(text)

    def malformed(self, problem: str) -> GraphError:
        """The error for a page whose ``problem`` makes its answer unusable."""
        endpoint = f"{self.method} {_endpoint_of(self.url)}"
        return GraphError(f"{endpoint}: {problem}.", kind="malformed", endpoint=endpoint, status=self.status,
                          read=self.read, title="Malformed answer")

    def _invalid(self) -> GraphError:
        endpoint = f"{self.method} {_endpoint_of(self.url)}"
        return GraphError(f"{endpoint} answered {self.status} with a body that is not valid JSON.",
                          kind="malformed", endpoint=endpoint, status=self.status, read=self.read,
                          title="Malformed answer",
                          next_step="Retry; if it persists, a proxy may be rewriting the answer.")

    def items(self) -> Iterator[dict[str, Any]]:
        for item in self._parse:
            if not isinstance(item, dict):  # one item of the wrong shape: the read is unknown, not shorter
                endpoint = f"{self.method} {_endpoint_of(self.url)}"
                raise GraphError(f"{endpoint} answered a 'value' list holding a {_json_kind(item)} where an "
                                 "object was expected.", kind="malformed", endpoint=endpoint, status=self.status,
                                 read=self.read, title="Malformed answer")
            yield item

    def finish(self) -> None:
        for _ in self._parse:
            pass

    def _elements(self, text: str) -> Iterator[Any]:
        try:
            yield from value_elements_in_turns(text, self.members)
        except ValueError as exc:
            raise self._invalid() from exc
        except TypeError:
            endpoint = f"{self.method} {_endpoint_of(self.url)}"
            raise GraphError(f"{endpoint} answered {self.status} with JSON that is not an object.",
                             kind="malformed", endpoint=endpoint, status=self.status, read=self.read,
                             title="Malformed answer") from None
        if not isinstance(self.members.get("value"), list):
            raise GraphError(f"GET {_endpoint_of(self.url)} answered without a 'value' list.", kind="malformed",
                             endpoint=_endpoint_of(self.url), read=self.read, title="Malformed answer")


def _network_failure(exc: Exception) -> str:
    """What went wrong on the wire, in plain words (never the request, which holds the token)."""
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS certificate was not trusted (see --ca-bundle)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke while reading the answer"
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "the host name could not be resolved (DNS)"
    if "refused" in text:
        return "the connection was refused"
    if "reset" in text or "aborted" in text:
        return "the connection was reset"
    return "the connection failed"
