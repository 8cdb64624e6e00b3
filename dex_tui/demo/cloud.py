"""FakeCloud: one fake tenant behind the identity platform, Graph and the Defender for Endpoint API.

``handle(method, url, headers, body)`` is a pure dispatch used by both transports (the in-process
adapter and the loopback HTTPS server). It is thread-safe: MSAL polls from a worker thread while the
UI thread may call the portal simulation.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from dex_tui.demo.directory import TenantState
from dex_tui.demo.faults import FaultBook, malform
from dex_tui.demo.graph import Graph
from dex_tui.demo.identity import Identity
from dex_tui.demo.mde import Mde
from dex_tui.demo.portal import Portal
from dex_tui.demo.scenario import Fault, Scenario
from dex_tui.demo.tokens import TokenStore
from dex_tui.demo.wire import Reply, Request, aad_error, graph_error, mde_error, text_reply
from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL

SERVICES = ("login", "graph", "mde")


class FakeCloud:
    """The whole fake: identity platform + Graph + MDE for one scenario.

    ``sleep`` is called for injected latency (tests pass a recorder); ``clock`` gives the time used for
    token and device code expiry (what a person sees uses the scenario's fixed ``now``).
    """

    def __init__(self, scenario: Scenario, *, sleep: Callable[[float], Any] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.scenario = scenario
        self.sleep = sleep
        self.clock = clock
        self.lock = threading.RLock()
        self.tokens = TokenStore()
        self.tenant = TenantState(scenario)
        self.request_log: list[tuple[str, str, str]] = []
        # The interactive wizard's pacing: with ``device_code_paced`` a code gets no answer (approval,
        # decline, Conditional Access block…) until the operator acts (:meth:`release_device_code`);
        # while ``device_code_held`` (a dialog is open over the sign-in) none at all.
        self.device_code_paced = False
        self.device_code_held = False
        self._faults = FaultBook(scenario.behaviour.faults)
        self._sequence = 0
        self._bases: list[tuple[str, str]] = []
        for url, service in ((DEMO_LOGIN_URL, "login"), (DEMO_GRAPH_URL, "graph"), (DEMO_MDE_URL, "mde")):
            self.add_base(url, service)
        self.identity = Identity(self)
        self.graph = Graph(self)
        self.mde = Mde(self)
        self.portal = Portal(self)

    # ----------------------------------------------------------------- public helpers

    def add_base(self, url: str, service: str) -> None:
        """Serve ``service`` under the public root ``url`` too (the HTTPS server registers its own)."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        with self.lock:
            self._bases.append((url.rstrip("/"), service))
            self._bases.sort(key=lambda item: len(item[0]), reverse=True)

    def approve_device_code(self) -> int:
        """Approve every pending device code (what the operator does at the verification page);
        returns how many were waiting."""
        with self.lock:
            pending = [c for c in self.tokens.device_codes.values() if not c.redeemed and not c.declined]
            for code in pending:
                code.approved = True
            return len(pending)

    def release_device_code(self) -> int:
        """The operator acted at the verification page: every pending code gets the scenario's answer at
        its next poll (approved, or the decline, expiry or Conditional Access block the scenario gives;
        approved in the ``on_demand`` mode). Returns how many were waiting."""
        with self.lock:
            pending = [c for c in self.tokens.device_codes.values() if not c.redeemed and not c.declined]
            for code in pending:
                code.released = True
                if self.scenario.behaviour.device_code.approval == "on_demand":
                    code.approved = True
            return len(pending)

    def decline_device_code(self) -> int:
        """Decline every pending device code; returns how many were waiting."""
        with self.lock:
            pending = [c for c in self.tokens.device_codes.values() if not c.redeemed and not c.approved]
            for code in pending:
                code.declined = True
            return len(pending)

    def pending_device_codes(self) -> int:
        with self.lock:
            return sum(1 for c in self.tokens.device_codes.values()
                       if not c.redeemed and not c.declined and self.clock() <= c.expires_at)

    def issued_secrets(self) -> set[str]:
        """Every access token, refresh token, id token and device code issued so far."""
        with self.lock:
            return self.tokens.all_secrets()

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token (as a password reset or "revoke sessions" would)."""
        with self.lock:
            for grant in self.tokens.refresh.values():
                grant.revoked = True

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (Graph and MDE answer 401)."""
        with self.lock:
            for grant in self.tokens.access.values():
                grant.expires_at = 0

    def stable_uuid(self, *parts: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "dex-tui-demo/" + "/".join(parts)))

    def random_token(self, size: int) -> str:
        return secrets.token_urlsafe(size)

    # ----------------------------------------------------------------- dispatch

    def handle(self, method: str, url: str, headers: Any = None, body: bytes | str | None = None) -> Reply:
        """Answer one request. ``Reply.fault`` may ask the transport to time out, reset the connection or
        truncate the body; ``status, headers, body = cloud.handle(...)`` also works."""
        req = Request.parse(method, url, headers, body)
        with self.lock:
            self._sequence += 1
            req.request_id = self.stable_uuid("request", str(self._sequence))
            host = urlsplit(url).hostname or ""
            self.request_log.append((req.method, host, req.path))
            if not self.locate(req):
                return text_reply(404, f"No service at {url}")
            route = self._route(req)
            if route is None:
                return self._not_found(req)
            endpoint, handler = route
            outcome = self._faults.decide(endpoint)
        delay = self.scenario.behaviour.latency_ms + outcome.latency_ms
        if delay:
            self.sleep(delay / 1000)
        fault = outcome.fault
        if fault is not None and fault.kind in ("timeout", "reset"):
            return Reply(0, {}, b"", fault=fault.kind)
        if fault is not None and fault.kind in ("throttle", "status"):
            return self.error_for(req, fault.status, retry_after=fault.retry_after,
                                  announce=fault.kind == "throttle")
        with self.lock:
            reply = handler(req)
        if fault is not None and fault.kind == "malformed":
            reply.body = malform(reply.body)
        elif fault is not None and fault.kind == "truncated":
            reply.fault = "truncated"
        return reply

    def inner_fault(self, endpoint: str) -> Fault | None:
        """For a request inside ``$batch``: the throttle or status fault it meets, if any."""
        return self._faults.decide(endpoint, kinds=("throttle", "status")).fault

    def locate(self, req: Request) -> bool:
        """Set ``req.service``, ``req.base`` and the path below the base; False for an unknown root."""
        for base, service in self._bases:
            if req.url == base or req.url.startswith(base + "/") or req.url.startswith(base + "?"):
                req.base, req.service = base, service
                base_path = urlsplit(base).path.rstrip("/")
                if base_path and req.path.startswith(base_path):
                    req.path = req.path[len(base_path):] or "/"
                return True
        return False

    def _route(self, req: Request) -> tuple[str, Callable[[Request], Reply]] | None:
        if req.service == "login":
            return self.identity.route(req)
        if req.service == "graph":
            return self.graph.route(req)
        return self.mde.route(req)

    def _not_found(self, req: Request) -> Reply:
        if req.service == "graph":
            return graph_error(400, "BadRequest", f"Resource not found for the segment '{req.path.strip('/')}'.",
                               now=self.scenario.now, request_id=req.request_id,
                               client_request_id=req.headers.get("client-request-id"))
        if req.service == "mde":
            return mde_error(404, "ResourceNotFound", f"Resource {req.path} was not found.",
                             request_id=req.request_id)
        return text_reply(404, "Not found")

    def error_for(self, req: Request, status: int, *, retry_after: int = 0, announce: bool = True) -> Reply:
        """The error reply of ``req``'s service for an injected status. Retry-After is sent when
        ``retry_after`` is set, and on a 429 when ``announce`` (a ``throttle`` fault; a ``status``
        fault of 429 without ``retry_after`` is a 429 without Retry-After)."""
        headers = {"Retry-After": str(retry_after)} if (status == 429 and announce) or retry_after else {}
        if req.service == "graph":
            code, message = _GRAPH_STATUS.get(status, ("generalException", "General exception while processing."))
            return graph_error(status, code, message, now=self.scenario.now, request_id=req.request_id,
                               client_request_id=req.headers.get("client-request-id"), headers=headers)
        if req.service == "mde":
            code, message = _MDE_STATUS.get(status, ("InternalServerError", "Internal server error."))
            return mde_error(status, code, message, request_id=req.request_id, headers=headers)
        if status == 429:
            return aad_error(429, "temporarily_unavailable", 50196,
                             "The server terminated an operation because it encountered a client request loop. "
                             "Please retry later.", now=self.scenario.now, trace_id=req.request_id,
                             correlation_id=req.headers.get("client-request-id") or req.request_id, headers=headers)
        return aad_error(status, "temporarily_unavailable", 90033,
                         "A transient error has occurred. Please try again.", now=self.scenario.now,
                         trace_id=req.request_id,
                         correlation_id=req.headers.get("client-request-id") or req.request_id, headers=headers)


_GRAPH_STATUS = {
    400: ("BadRequest", "Bad request."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource not found."),
    429: ("TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "Gateway timeout."),
}

_MDE_STATUS = {
    400: ("BadRequest", "Bad request."),
    401: ("Unauthorized", "Authorization has been denied for this request."),
    403: ("Forbidden", "The user does not have the permission to access this resource."),
    404: ("ResourceNotFound", "Resource not found."),
    429: ("TooManyRequests", "Rate limit is exceeded. Try again later."),
    500: ("InternalServerError", "Internal server error."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}
