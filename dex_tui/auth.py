"""Sign-in with MSAL: device code (the default), the browser on a local desktop, cached accounts, tokens.

Every method that talks to the identity provider blocks; call it from a thread worker, never from
the UI thread. Building an MSAL app does network I/O (OpenID discovery), so apps are built lazily
inside those methods, one fresh app per sign-in attempt (MSAL caches error replies per app,
reference/tech.md §1.8). Outcomes MSAL reports vaguely (cancel and expiry both come back as
``authorization_pending``) become typed :class:`~dex_tui.errors.SignInError` subclasses, each with a
plain explanation and the next step (:mod:`dex_tui.signin_errors`); a busy identity provider is
ridden out as :mod:`dex_tui.signin_retry` says.

Nothing here ever logs or returns token text or the device code; :class:`SignedIn` carries who
signed in, never a token.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msal
import requests

from dex_tui import signin_retry
from dex_tui.desktop import local_desktop
from dex_tui.device_code_poll import bound_flow
from dex_tui.directory_roles import may_manage_defender_experts, role_names
from dex_tui.errors import DexError, SignInError
from dex_tui.http import parse_retry_after
from dex_tui.records import dataclass
from dex_tui.safety import clean_text, endpoint_hosts, is_allowed_link
from dex_tui.scopes import GRAPH_SCOPES, MDE_SCOPE_NAME, REQUIREMENTS
from dex_tui.settings import is_guid
from dex_tui.signin_errors import (
    DEFAULT_CONSENT_ROLE,
    AccountChoiceRequired,
    AppNotUsable,
    BrowserSignInUnavailable,
    ConditionalAccessBlocked,
    ConsentRequired,
    DeviceCodeExpired,
    IdentityProviderError,
    IdentityProviderUnavailable,
    SignInCancelled,
    SignInDeclined,
    SignInRequired,
    TenantNotFound,
    aadsts_codes,
    classify_flow_error,
    network_error,
)
from dex_tui.signin_retry import TRANSIENT_STATUSES, RetryPolicy, SignInRetry, retrying
from dex_tui.token_cache import TokenCacheStore

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# MSAL's DEBUG log dumps request parameters (the device code among them); keep it at WARNING.
logging.getLogger("msal").setLevel(logging.WARNING)


class _DropMsalCacheEvents(logging.Filter):
    """MSAL's token cache logs every token request's parameters at DEBUG (it masks refresh tokens but
    not the device code or the authorization code): drop those records even when something turns
    MSAL's logging up again."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("event=")


logging.getLogger("msal.token_cache").addFilter(_DropMsalCacheEvents())

MDE_APP_NAME = "WindowsDefenderATP"


def _now() -> float:
    return time.time()


# -- value objects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedAccount:
    """An account found in the token cache (no secret in it)."""

    username: str
    home_account_id: str
    tenant_id: str
    environment: str

    def label(self) -> str:
        return f"{clean_text(self.username)} (tenant {clean_text(self.tenant_id)})"


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What the operator needs to finish a device code sign-in: the code, where to enter it, until when.

    ``expires_at`` is MSAL's wall-clock stamp; ``expires_in`` is the lifetime the identity platform
    granted, for a countdown kept on the caller's own clock.

    ``link_allowed`` says whether ``verification_uri`` may be opened or shown as a link (a Microsoft
    host or a configured endpoint). The device code itself stays inside, out of ``repr``.
    """

    user_code: str
    verification_uri: str
    expires_at: float
    message: str
    interval: int
    link_allowed: bool
    expires_in: int = 900
    _flow: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    _app: Any = field(repr=False, compare=False, default=None)

    def seconds_left(self, now: float | None = None) -> int:
        """Whole seconds until the code expires (0 when it has)."""
        return max(0, int(self.expires_at - (_now() if now is None else now)))

    def instruction(self) -> str:
        """One line for a terminal: where to go and what to type (the user code only)."""
        minutes = max(1, round(self.seconds_left() / 60))
        expiry = f"(it expires in about {minutes} minute{'s' if minutes != 1 else ''})"
        if not self.link_allowed:  # never print an address off the allowlist as the place to go
            return (f"To sign in, enter the code {self.user_code} {expiry} at the device sign-in page of your "
                    "cloud. The address the identity provider sent is not on the allowlist of Microsoft hosts "
                    "and configured endpoints, so it is not shown; check --login-url.")
        return (f"To sign in, open {self.verification_uri} in a browser on any device and enter the code "
                f"{self.user_code} {expiry}.")


@dataclass(frozen=True)
class SignedIn:
    """Who signed in and what was granted. Never holds a token.

    ``role_template_ids`` come from the access token's ``wids`` claim: a hint, not proof (the live
    check reads ``/me/memberOf``).
    """

    username: str
    display_name: str
    tenant_id: str
    home_account_id: str
    role_template_ids: tuple[str, ...]
    granted_scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    method: str  # "device_code", "browser" or "cache"

    @property
    def role_names(self) -> tuple[str, ...]:
        """Names of the directory roles hinted by the token (unknown IDs shown as IDs)."""
        return role_names(self.role_template_ids)

    @property
    def may_manage_defender_experts(self) -> bool:
        """Security Administrator or Global Administrator, as hinted by the token."""
        return may_manage_defender_experts(self.role_template_ids)

    def missing_scopes_explanation(self) -> str:
        """Plain words on the permissions not granted, or '' when all were."""
        return explain_missing_scopes(self.missing_scopes) if self.missing_scopes else ""


@dataclass(frozen=True)
class BrowserPolicy:
    """Whether the browser flow may be used here, and why (``short``: a few words for one screen line)."""

    allowed: bool
    reason: str
    short: str = ""

    @property
    def brief(self) -> str:
        """The few-words reason (the full one when no short form was given)."""
        return self.short or self.reason


@dataclass(frozen=True)
class BrowserPage:
    """The sign-in page of a browser sign-in: its address (on the allowlist, or the sign-in stops before
    anything opens it) and whether a graphical browser was started with it."""

    url: str
    opened: bool


# -- helpers --------------------------------------------------------------------------------------


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (a hint for display and scope checks); {} when not a JWT."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _scope_name(scope: str) -> str:
    """``https://graph.microsoft.com/User.Read`` -> ``user.read`` (for comparison)."""
    return scope.rstrip("/").rsplit("/", 1)[-1].lower()


def _scopes_of(text: object) -> tuple[str, ...]:
    if isinstance(text, str):
        return tuple(s for s in text.split() if s)
    if isinstance(text, list):
        return tuple(str(s) for s in text)
    return ()


def missing_from(requested: Iterable[str], granted: Iterable[str]) -> tuple[str, ...]:
    """The requested scopes whose names are not among the granted ones."""
    have = {_scope_name(s) for s in granted}
    return tuple(s for s in requested if _scope_name(s) not in have)


def explain_missing_scopes(scopes: Iterable[str], resource: str = "Microsoft Graph") -> str:
    """Which delegated permissions are missing, what they are for, and which admin role can consent."""
    lines = []
    for scope in scopes:
        name = scope.rsplit("/", 1)[-1]
        uses = sorted(k.replace("_", " ") for k, r in REQUIREMENTS.items() if r.permission.lower() == name.lower())
        consent = {r.consent_role for r in REQUIREMENTS.values() if r.permission.lower() == name.lower()}
        who = " or ".join(sorted(consent)) or DEFAULT_CONSENT_ROLE
        what = f" (needed to read: {', '.join(uses)})" if uses else ""
        lines.append(f"{name} on {resource}{what}; can be consented by: {who}")
    return "; ".join(lines)


# TypeError and AttributeError: MSAL reading a reply of the wrong JSON shape ([] or null for an object).
_CALL_ERRORS = (requests.RequestException, msal.exceptions.MsalServiceError, ValueError, KeyError, TypeError,
                AttributeError)


def _unusable_reply(host: str, doing: str, why: str) -> SignInError:
    """A reply that parsed but is not what the identity platform sends."""
    return IdentityProviderError(
        f"{host} sent a reply that is not what the identity platform sends while {doing} ({why}).",
        title="Sign-in reply unusable",
        next_step="Check --login-url: it must point to a Microsoft identity platform (v2.0) endpoint.")


class _ReplyWatch:
    """The run's HTTP session as MSAL's ``http_client``, remembering per thread the status, Retry-After
    and AADSTS codes of the last reply: MSAL hides the status (an error dict, or "HTTP Error: 503"),
    and a busy provider must be told apart from a real refusal."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session
        self._last = threading.local()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._note(lambda: self._session.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._note(lambda: self._session.post(url, **kwargs))

    def close(self) -> None:
        """The session belongs to the run, not to one MSAL app: leave it open."""

    def _note(self, send: Callable[[], requests.Response]) -> requests.Response:
        self._last.reply = None
        response = send()
        status = int(response.status_code)
        retry_after: float | None = None
        codes: tuple[int, ...] = ()
        if status in TRANSIENT_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            try:
                body = response.json()
            except ValueError:
                body = None
            codes = tuple(aadsts_codes(body)) if isinstance(body, dict) else ()
        self._last.reply = (status, retry_after, codes)
        return response

    def busy(self) -> tuple[int, float | None, tuple[int, ...]] | None:
        """(status, Retry-After, AADSTS codes) when this thread's last reply was a 429 or 5xx."""
        reply = getattr(self._last, "reply", None)
        return reply if reply is not None and reply[0] in TRANSIENT_STATUSES else None


class _WatchedApp(msal.PublicClientApplication):
    """MSAL's public client app talking through a :class:`_ReplyWatch`."""

    def __init__(self, client_id: str, *, watch: _ReplyWatch, **kwargs: Any) -> None:
        self.reply_watch = watch
        super().__init__(client_id, http_client=watch, **kwargs)


def _unless_busy(watch: _ReplyWatch, error: DexError, host: str, doing: str) -> DexError:
    """``error``, or :class:`IdentityProviderUnavailable` when the reply behind it was a 429 or 5xx."""
    busy = watch.busy()
    if busy is None:
        return error
    status, retry_after, codes = busy
    named = f" ({', '.join(f'AADSTS{c}' for c in codes)}, temporarily unavailable)" if codes else ""
    return IdentityProviderUnavailable(
        f"{host} answered HTTP {status}{named} while {doing}.", status=status, retry_after=retry_after,
        codes=codes, doing=doing, next_step="Wait a minute and try again.")


# -- the authenticator ----------------------------------------------------------------------------


class Authenticator:
    """Signs one operator in against one authority and hands out tokens silently afterwards.

    ``login_url`` is the identity host root (cloud table, ``--login-url`` or the demo host);
    ``tenant`` is the tenant segment (``organizations`` when none was given). ``session`` is the
    run's one HTTP session. ``store`` is the token cache (load it before use; this class saves it).
    ``retry`` says how sign-in rides out HTTP 429/5xx (default :data:`dex_tui.signin_retry.DEFAULT_RETRY_POLICY`).
    """

    def __init__(self, *, client_id: str, login_url: str, tenant: str, session: requests.Session,
                 store: TokenCacheStore, graph_scopes: Iterable[str] = GRAPH_SCOPES,
                 extra_link_hosts: Iterable[str] = (), environ: Mapping[str, str] | None = None,
                 on_signed_in: Callable[[SignedIn], None] | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.client_id = client_id
        self.login_url = login_url.rstrip("/")
        self.tenant = tenant
        self.authority = f"{self.login_url}/{tenant}"
        self.session = session
        self.store = store
        self.graph_scopes = tuple(graph_scopes)
        self.environ = os.environ if environ is None else environ
        self._link_hosts = (*endpoint_hosts(self.login_url), *extra_link_hosts)
        self._host = urlsplit(self.login_url).hostname or self.login_url
        self._lock = threading.RLock()
        self._app: _WatchedApp | None = None
        self._account: dict[str, Any] | None = None
        self._signed_in: SignedIn | None = None
        self._graph_silent_scopes: tuple[str, ...] = self.graph_scopes
        self._on_signed_in = on_signed_in
        self.retry = retry if retry is not None else signin_retry.DEFAULT_RETRY_POLICY

    # -- state --

    @property
    def signed_in(self) -> SignedIn | None:
        """The current sign-in, or None."""
        return self._signed_in

    # -- apps --

    def _new_app(self) -> _WatchedApp:
        """A fresh MSAL app (does OpenID discovery over the network)."""
        self.store.load()
        watch = _ReplyWatch(self.session)
        doing = "reading the sign-in configuration"
        try:
            return _WatchedApp(self.client_id, watch=watch, authority=self.authority,
                               token_cache=self.store.cache, instance_discovery=False)
        except ValueError as exc:
            raise _unless_busy(watch, self._discovery_error(exc), self._host, doing) from None
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise _unless_busy(watch, network_error(exc, self._host, doing), self._host, doing) from None
        except (KeyError, TypeError, AttributeError):  # metadata of the wrong shape: {}, [], null, ...
            raise _unless_busy(watch, self._discovery_error(ValueError("wrong shape")), self._host,
                               doing) from None

    def _discovery_error(self, exc: ValueError) -> SignInError:
        text = str(exc)
        match = re.search(r"HTTP status: (\d+), Error: (.*)", text, re.S)
        if match:
            try:
                body = json.loads(match.group(2).split(" Also please")[0])
            except ValueError:
                body = {}
            if isinstance(body, dict) and body.get("error"):
                return classify_flow_error(body, context="Reading the tenant's sign-in configuration")
            return TenantNotFound(
                f"{self._host} has no sign-in configuration for the tenant {clean_text(self.tenant)!r} "
                f"(HTTP {match.group(1)}).",
                next_step="Check --tenant, --cloud and --login-url.")
        return IdentityProviderError(
            f"{self._host} did not return a usable sign-in configuration for {clean_text(self.tenant)!r}.",
            title="Sign-in configuration unusable",
            next_step="Check --login-url: it must point to a Microsoft identity platform (v2.0) endpoint.")

    def _silent_app(self) -> _WatchedApp:
        with self._lock:
            if self._app is None:
                self._app = self._new_app()
            return self._app

    def _drop_app(self) -> None:
        with self._lock:
            self._app = None

    # -- cached accounts --

    def accounts(self) -> list[CachedAccount]:
        """Accounts in the token cache for this login host (and tenant, when a tenant ID was given).

        Reads only the local cache: no network.
        """
        return cached_accounts(self.store, host=self._host, tenant=self.tenant if is_guid(self.tenant) else None)

    def restore(self, account: CachedAccount | None = None, *, is_cancelled: Callable[[], bool] = lambda: False,
                on_retry: Callable[[SignInRetry], None] | None = None) -> SignedIn | None:
        """Sign in silently from the cache (a busy provider is retried, see :class:`RetryPolicy`).

        Returns None when nothing is cached; raises :class:`AccountChoiceRequired` when several
        accounts are cached and none was chosen, :class:`SignInRequired` when the cached sign-in
        cannot be used any more (revoked, expired), or another :class:`SignInError`.
        """
        accounts = self.accounts()
        if account is None:
            if not accounts:
                return None
            if len(accounts) > 1:
                names = ", ".join(a.label() for a in accounts)
                raise AccountChoiceRequired(
                    f"Several accounts are remembered on this machine: {names}.", accounts=accounts,
                    next_step="Choose one (dex-tui signin --account USERNAME), or sign in anew.")
            account = accounts[0]
        elif account.home_account_id not in {a.home_account_id for a in accounts}:
            return None
        home_account_id = account.home_account_id

        def attempt() -> SignedIn | None:
            app = self._silent_app()
            msal_account = self._msal_account(app, home_account_id)
            if msal_account is None:
                return None
            result = self._call(app, "Signing in from the saved session",
                                lambda: app.acquire_token_silent_with_error(list(self.graph_scopes), msal_account))
            if result is None:
                return None
            if "error" in result:
                self._drop_app()
                raise _unless_busy(app.reply_watch, classify_flow_error(result, context="Signing in from the "
                                   "saved session"), self._host, "signing in from the saved session")
            if not isinstance(result.get("access_token"), str):
                self._drop_app()
                raise _unusable_reply(self._host, "signing in from the saved session", "no access_token in it")
            return self._finish(app, result, msal_account, method="cache")

        return self._retrying("signing in from the saved session", attempt, is_cancelled, on_retry)

    def choose_account(self, username: str) -> CachedAccount:
        """The cached account with this username (case-insensitive); SignInRequired when none."""
        for candidate in self.accounts():
            if candidate.username.lower() == username.strip().lower():
                return candidate
        raise SignInRequired(f"No remembered sign-in for {clean_text(username)!r} on this machine.",
                             next_step="Sign in with that account, or run dex-tui signin without --account.")

    # -- device code --

    def start_device_flow(self, *, is_cancelled: Callable[[], bool] = lambda: False,
                          on_retry: Callable[[SignInRetry], None] | None = None) -> DeviceCodePrompt:
        """Ask for a new device code (a fresh MSAL app each time). Blocks for a few requests; a busy
        provider is retried (:class:`RetryPolicy`), ``on_retry`` hears of each wait."""
        return self._retrying("asking for a sign-in code", self._start_device_flow_once, is_cancelled, on_retry)

    def _start_device_flow_once(self) -> DeviceCodePrompt:
        doing = "asking for a sign-in code"
        app = self._new_app()
        try:
            flow = app.initiate_device_flow(scopes=list(self.graph_scopes))
        except _CALL_ERRORS as exc:
            raise _unless_busy(app.reply_watch, network_error(exc, self._host, doing), self._host, doing) from None
        if not isinstance(flow, dict) or not isinstance(flow.get("device_code"), str) \
                or not isinstance(flow.get("user_code"), str):
            if isinstance(flow, dict) and flow.get("error"):
                raise _unless_busy(app.reply_watch, classify_flow_error(flow, context="Asking for a sign-in code"),
                                   self._host, doing)
            raise _unless_busy(app.reply_watch, _unusable_reply(self._host, doing, "no device code in it"),
                               self._host, doing)
        bound_flow(flow, _now)  # MSAL polls with these: an interval of 0 is a busy loop nothing stops
        uri = str(flow.get("verification_uri") or flow.get("verification_url") or "")
        return DeviceCodePrompt(
            user_code=clean_text(flow["user_code"], limit=40),
            verification_uri=clean_text(uri, limit=300),
            expires_at=float(flow["expires_at"]),
            message=clean_text(flow.get("message") or "", limit=500),
            interval=int(flow["interval"]),
            link_allowed=is_allowed_link(uri, self._link_hosts),
            expires_in=int(flow["expires_in"]),
            _flow=flow, _app=app)

    def complete_device_flow(self, prompt: DeviceCodePrompt, is_cancelled: Callable[[], bool] = lambda: False,
                             *, on_retry: Callable[[SignInRetry], None] | None = None) -> SignedIn:
        """Wait until the code is entered (or cancelled, or expired) and finish the sign-in.

        Returns within about a second of ``is_cancelled()`` turning true (raising
        :class:`SignInCancelled`); raises :class:`DeviceCodeExpired` when the code ran out (call
        :meth:`start_device_flow` again for a new one), or another typed :class:`SignInError`. A busy
        token endpoint is retried with a fresh MSAL app polling the same code.
        """
        first, flow = prompt._app, prompt._flow
        if first is None or not flow:
            raise ValueError("a DeviceCodePrompt from start_device_flow is needed")
        apps = [first]

        def exit_condition(current: dict[str, Any]) -> bool:
            return bool(is_cancelled()) or current.get("expires_at", 0) < _now()

        def attempt() -> SignedIn:
            app = apps.pop() if apps else self._new_app()
            doing = "waiting for the sign-in"
            try:
                result = app.acquire_token_by_device_flow(flow, exit_condition=exit_condition)
            except _CALL_ERRORS as exc:
                raise _unless_busy(app.reply_watch, network_error(exc, self._host, doing), self._host,
                                   doing) from None
            if not isinstance(result, dict):
                raise _unusable_reply(self._host, doing, "not a JSON object")
            if isinstance(result.get("access_token"), str):
                return self._finish(app, result, None, method="device_code")
            if not result.get("error"):  # 200 without an access token, or without anything
                raise _unusable_reply(self._host, doing, "no access_token in it")
            if result.get("error") in ("authorization_pending", "slow_down"):
                if is_cancelled():
                    raise SignInCancelled("The sign-in was cancelled.", next_step="Start it again when ready.")
                raise DeviceCodeExpired("The code was not entered before it expired.",
                                        next_step="Ask for a new code and enter it within its lifetime.")
            raise _unless_busy(app.reply_watch, classify_flow_error(result, context="The device code sign-in"),
                               self._host, doing)

        return self._retrying("waiting for the sign-in", attempt, is_cancelled, on_retry)

    def sign_in_with_device_code(self, show: Callable[[DeviceCodePrompt], None],
                                 is_cancelled: Callable[[], bool] = lambda: False,
                                 max_codes: int = 3, *,
                                 on_retry: Callable[[SignInRetry], None] | None = None) -> SignedIn:
        """The whole device code sign-in, issuing a new code when one expires (at most ``max_codes``)."""
        for attempt in range(1, max_codes + 1):
            prompt = self.start_device_flow(is_cancelled=is_cancelled, on_retry=on_retry)
            show(prompt)
            try:
                return self.complete_device_flow(prompt, is_cancelled, on_retry=on_retry)
            except DeviceCodeExpired:
                if attempt == max_codes or is_cancelled():
                    raise
                log.info("device code expired; issuing a new one (%d of %d)", attempt + 1, max_codes)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- browser --

    def browser_policy(self) -> BrowserPolicy:
        """Whether the browser flow may be offered here (a local desktop with a graphical browser)."""
        from dex_tui.loopback import graphical_browser_available

        desktop = local_desktop(self.environ)
        if not desktop.present:
            return BrowserPolicy(False, desktop.reason, desktop.short)
        check = graphical_browser_available()
        return BrowserPolicy(check.ok, check.reason, check.short)

    def sign_in_with_browser(self, *, is_cancelled: Callable[[], bool] = lambda: False,
                             show_url: Callable[[str], None] = lambda url: None, port: int = 0,
                             open_browser: bool = True, timeout: float = 600.0,
                             on_page: Callable[[BrowserPage], None] | None = None,
                             on_retry: Callable[[SignInRetry], None] | None = None) -> SignedIn:
        """The authorization code flow with PKCE through a loopback redirect on ``localhost:port``.

        With ``open_browser`` (a local desktop only: :meth:`browser_policy` must allow it) a
        graphical browser is opened; otherwise, or when it cannot open, ``show_url`` receives the
        address to open by hand (the ``ssh -L PORT:localhost:PORT`` case). ``on_page`` then hears of
        the address and whether a browser was started with it, in every case (the wizard shows it
        in case the browser did not come up). An address off the allowlist of Microsoft hosts and
        configured endpoints is never opened nor shown. Cancellable within about half a second
        through ``is_cancelled``; a busy provider is retried (:class:`RetryPolicy`).
        """
        from dex_tui.loopback import LoopbackReceiver, open_in_graphical_browser

        if open_browser:
            policy = self.browser_policy()
            if not policy.allowed:
                raise BrowserSignInUnavailable(
                    f"The browser sign-in is not available: {policy.reason}.",
                    next_step="Use the device code sign-in, or forward a port over SSH "
                              "(ssh -L 8400:localhost:8400 HOST) and run 'dex-tui signin --browser "
                              "--port 8400' to open the address on your own machine.")
        app = self._retrying("reading the sign-in configuration", self._new_app, is_cancelled, on_retry)
        try:
            receiver = LoopbackReceiver(port)
        except OSError as exc:
            raise BrowserSignInUnavailable(
                f"Could not listen on localhost port {port} for the sign-in reply ({exc.strerror or exc}).",
                next_step="Choose another port with --port, or use the device code sign-in.") from None
        with receiver:
            redirect_uri = f"http://localhost:{receiver.port}"
            try:
                flow = app.initiate_auth_code_flow(scopes=list(self.graph_scopes), redirect_uri=redirect_uri,
                                                   prompt="select_account", response_mode="form_post")
            except _CALL_ERRORS as exc:
                raise network_error(exc, self._host, "preparing the browser sign-in") from None
            auth_uri = flow["auth_uri"]
            if not is_allowed_link(auth_uri, self._link_hosts):
                raise IdentityProviderError(
                    f"The sign-in page address the identity provider gave (host "
                    f"{clean_text(urlsplit(auth_uri).hostname or '?', 80)!r}) "
                    "is not a Microsoft host nor a configured endpoint, so it is not opened.",
                    title="Sign-in page refused",
                    next_step="Check --login-url: it must point to a Microsoft identity platform (v2.0) endpoint.")
            opened = open_in_graphical_browser(auth_uri) if open_browser else False
            if not opened:
                show_url(auth_uri)
            if on_page is not None:
                on_page(BrowserPage(url=auth_uri, opened=opened))
            reply = receiver.wait(is_cancelled=is_cancelled, timeout=timeout)
        if reply is None:
            if is_cancelled():
                raise SignInCancelled("The sign-in was cancelled.", next_step="Start it again when ready.")
            raise SignInCancelled("No answer came back from the browser in time.",
                                  title="Sign-in timed out", next_step="Start the sign-in again.")
        if "error" in reply:
            raise classify_flow_error(reply, context="The browser sign-in")
        apps = [app]

        def redeem() -> SignedIn:
            current = apps.pop() if apps else self._new_app()
            doing = "finishing the browser sign-in"
            try:
                result = current.acquire_token_by_auth_code_flow(flow, reply, scopes=list(self.graph_scopes))
            except _CALL_ERRORS as exc:
                raise _unless_busy(current.reply_watch, network_error(exc, self._host, doing), self._host,
                                   doing) from None
            except RuntimeError:  # MSAL's nonce or max_age check of the id_token failed
                raise IdentityProviderError(
                    "The identity provider's answer does not belong to this sign-in (its nonce does not match).",
                    title="Sign-in reply refused", next_step="Start the sign-in again.") from None
            if "access_token" not in result:
                raise _unless_busy(current.reply_watch, classify_flow_error(result, context="The browser sign-in"),
                                   self._host, doing)
            return self._finish(current, result, None, method="browser")

        return self._retrying("finishing the browser sign-in", redeem, is_cancelled, on_retry)

    # -- tokens --

    def graph_token(self, *, force_refresh: bool = False) -> str:
        """A Microsoft Graph access token for the signed-in account, silently (cache or refresh token).

        ``force_refresh`` skips the cached access token (use it once after a 401). Raises
        :class:`SignInRequired` when nobody is signed in or the refresh token no longer works.
        """
        return self.token_for(self._graph_silent_scopes, resource="Microsoft Graph", force_refresh=force_refresh)

    def token_for(self, scopes: Iterable[str], *, resource: str, force_refresh: bool = False) -> str:
        """An access token for one resource's ``scopes``, silently. A missing scope raises ConsentRequired."""
        scopes = list(scopes)
        with self._lock:
            if self._account is None:
                self.restore()
            account = self._account
        if account is None:
            raise SignInRequired("Nobody is signed in.", next_step="Sign in first (dex-tui signin).")
        app = self._silent_app()
        result = self._call(app, f"Getting a {resource} token",
                            lambda: app.acquire_token_silent_with_error(scopes, account,
                                                                        force_refresh=force_refresh))
        if result is None:
            raise SignInRequired(f"No saved sign-in can give a {resource} token.", next_step="Sign in again.")
        if "error" in result:
            self._drop_app()
            error = classify_flow_error(result, context=f"Getting a {resource} token")
            busy = _unless_busy(app.reply_watch, error, self._host, f"getting a {resource} token")
            if busy is not error:
                raise busy
            if isinstance(error, ConsentRequired):
                missing = tuple(s.rsplit("/", 1)[-1] for s in scopes)
                raise ConsentRequired(
                    f"The delegated permission {', '.join(missing)} on {resource} has not been consented "
                    f"to in this tenant. {explain_missing_scopes(missing, resource)}.",
                    scopes=missing, next_step=error.next_step)
            raise error
        self.store.save()
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            self._drop_app()
            raise _unusable_reply(self._host, f"getting a {resource} token", "no access_token in it")
        granted = _scopes_of(token_claims(token).get("scp")) or _scopes_of(result.get("scope"))
        if granted:
            missing = missing_from(scopes, granted)
            if missing:
                names = tuple(s.rsplit("/", 1)[-1] for s in missing)
                raise ConsentRequired(
                    f"The {resource} token lacks {', '.join(names)}: "
                    f"{explain_missing_scopes(names, resource)}.", scopes=names,
                    next_step="Grant admin consent for the permission, then sign in again.")
        return token

    # -- sign-out --

    def sign_out(self, account: CachedAccount | None = None) -> list[str]:
        """Forget one account (its tokens), or everyone plus the stored cache file and key.

        Offline: edits the local cache only. Returns descriptions of what was removed.
        """
        with self._lock:
            self._account = None
            self._signed_in = None
            self._app = None
            self._graph_silent_scopes = self.graph_scopes
        if account is not None:
            return [f"the account {account.label()}"] if self.store.forget_account(account.home_account_id) else []
        names = [f"the account {a.label()}" for a in self.accounts()]
        return names + self.store.clear()

    # -- internals --

    def _call(self, app: _WatchedApp, doing: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except _CALL_ERRORS as exc:
            self._drop_app()
            during = doing[:1].lower() + doing[1:]  # "Getting a Microsoft Graph token" inside a sentence
            raise _unless_busy(app.reply_watch, network_error(exc, self._host, during), self._host,
                               during) from None

    def _retrying(self, doing: str, attempt: Callable[[], _T], is_cancelled: Callable[[], bool],
                  on_retry: Callable[[SignInRetry], None] | None) -> _T:
        """``attempt()`` as :attr:`retry` allows (:func:`dex_tui.signin_retry.retrying`)."""
        return retrying(self.retry, self._host, doing, attempt, is_cancelled, on_retry)

    @staticmethod
    def _msal_account(app: msal.PublicClientApplication, home_account_id: str) -> dict[str, Any] | None:
        accounts: list[dict[str, Any]] = app.get_accounts()
        for candidate in accounts:
            if candidate.get("home_account_id") == home_account_id:
                return candidate
        return None

    def _finish(self, app: msal.PublicClientApplication, result: dict[str, Any], account: dict[str, Any] | None,
                *, method: str) -> SignedIn:
        """Record the sign-in: save the cache, find the account, read who it is from the tokens."""
        self.store.save()
        id_claims = dict(result.get("id_token_claims") or {})
        at_claims = token_claims(result.get("access_token", ""))
        if account is None:
            home = _home_account_id(result.get("client_info"), id_claims)
            account = self._msal_account(app, home) if home else None
            if account is None:
                accounts = app.get_accounts(username=id_claims.get("preferred_username"))
                account = accounts[0] if accounts else None
        if account is None:
            raise IdentityProviderError(
                "The sign-in succeeded but no account could be recorded from the reply (no client_info "
                "or id_token).", title="Sign-in incomplete",
                next_step="Check --login-url: it must point to a Microsoft identity platform (v2.0) endpoint.")
        if not id_claims:
            id_claims = self._cached_id_claims(account)
        granted = _scopes_of(at_claims.get("scp")) or _scopes_of(result.get("scope"))
        missing = missing_from(self.graph_scopes, granted) if granted else ()
        silent = tuple(s for s in self.graph_scopes if s not in missing) or self.graph_scopes
        signed = SignedIn(
            username=clean_text(account.get("username") or id_claims.get("preferred_username")
                                or at_claims.get("upn") or ""),
            display_name=clean_text(id_claims.get("name") or at_claims.get("name") or ""),
            tenant_id=clean_text(id_claims.get("tid") or at_claims.get("tid") or account.get("realm") or ""),
            home_account_id=str(account.get("home_account_id") or ""),
            role_template_ids=tuple(str(w).lower() for w in at_claims.get("wids") or [] if isinstance(w, str)),
            granted_scopes=tuple(granted),
            missing_scopes=tuple(missing),
            method=method)
        with self._lock:
            self._app = app
            self._account = account
            self._signed_in = signed
            self._graph_silent_scopes = silent
        log.info("signed in (%s) as %s in tenant %s", method, signed.username, signed.tenant_id)
        if self._on_signed_in is not None:
            self._on_signed_in(signed)
        return signed

    def _cached_id_claims(self, account: dict[str, Any]) -> dict[str, Any]:
        for item in self.store.cache.search(msal.TokenCache.CredentialType.ID_TOKEN,
                                            query={"home_account_id": account.get("home_account_id")}):
            claims = token_claims(item.get("secret", ""))
            if claims:
                return claims
        return {}


def cached_accounts(store: TokenCacheStore, *, host: str | None = None,
                    tenant: str | None = None) -> list[CachedAccount]:
    """Accounts in a token cache (loaded here), optionally only for one login host and tenant ID."""
    store.load()
    found = []
    for item in store.cache.search(msal.TokenCache.CredentialType.ACCOUNT):
        if host and str(item.get("environment", "")).lower() != host.lower():
            continue
        if tenant and str(item.get("realm", "")).lower() != tenant.lower():
            continue
        found.append(CachedAccount(
            username=str(item.get("username") or ""),
            home_account_id=str(item.get("home_account_id") or ""),
            tenant_id=str(item.get("realm") or ""),
            environment=str(item.get("environment") or "")))
    found.sort(key=lambda a: (a.username.lower(), a.tenant_id, a.environment))
    return found


def _home_account_id(client_info: object, id_claims: Mapping[str, Any]) -> str | None:
    if isinstance(client_info, str):
        try:
            info = json.loads(base64.urlsafe_b64decode(client_info + "=" * (-len(client_info) % 4)))
        except (ValueError, binascii.Error):
            info = {}
        if isinstance(info, dict) and info.get("uid") and info.get("utid"):
            return f"{info['uid']}.{info['utid']}"
    sub = id_claims.get("sub")
    return str(sub) if sub else None


# The sign-in errors, the retry policy and the role names are defined in their own modules
# (signin_errors, signin_retry, directory_roles); they are named here too, where callers have always
# found them with the Authenticator that raises and applies them.
__all__ = [
    "TRANSIENT_STATUSES",
    "AccountChoiceRequired", "AppNotUsable", "Authenticator", "BrowserPage", "BrowserPolicy",
    "BrowserSignInUnavailable", "CachedAccount", "ConditionalAccessBlocked", "ConsentRequired", "DeviceCodeExpired",
    "DeviceCodePrompt", "IdentityProviderError", "IdentityProviderUnavailable", "MDE_APP_NAME", "MDE_SCOPE_NAME",
    "RetryPolicy", "SignInCancelled", "SignInDeclined", "SignInRequired", "SignInRetry", "SignedIn",
    "TenantNotFound", "cached_accounts", "classify_flow_error", "explain_missing_scopes", "token_claims",
]
