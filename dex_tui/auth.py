"""Sign-in with MSAL: device code (the default), the browser on a local desktop, cached accounts, tokens.

Every method that talks to the identity provider blocks; call it from a thread worker, never from
the UI thread. Building an MSAL app does network I/O (OpenID discovery), so apps are built lazily
inside those methods, one fresh app per sign-in attempt (MSAL caches error replies per app,
reference/tech.md §1.8). Outcomes MSAL reports vaguely (cancel and expiry both come back as
``authorization_pending``) are classified here into typed :class:`~dex_tui.errors.SignInError`
subclasses, each with a plain explanation and the next step.

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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from dex_tui.errors import NetworkError, SignInError
from dex_tui.safety import clean_text, endpoint_hosts, is_allowed_link
from dex_tui.scopes import GRAPH_SCOPES, MDE_SCOPE_NAME, REQUIREMENTS
from dex_tui.token_cache import TokenCacheStore

log = logging.getLogger(__name__)

# MSAL's DEBUG log dumps request parameters (the device code among them); keep it at WARNING.
logging.getLogger("msal").setLevel(logging.WARNING)


class _DropMsalCacheEvents(logging.Filter):
    """MSAL's token cache logs every token request's parameters at DEBUG (it masks refresh tokens but
    not the device code or the authorization code): drop those records even when something turns
    MSAL's logging up again."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("event=")


logging.getLogger("msal.token_cache").addFilter(_DropMsalCacheEvents())

# Directory role template IDs (reference/domain.md §4.10) -> names, to show the ``wids`` hint.
ROLE_NAMES: dict[str, str] = {
    "5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
    "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f": "Security Operator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
}
# The "User" template every member carries in ``wids``; it is not a directory role worth showing.
DEFAULT_USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"

DEFAULT_CONSENT_ROLE = "Global Administrator, Privileged Role Administrator or Cloud Application Administrator"
MDE_APP_NAME = "WindowsDefenderATP"

# Conditional Access refusals: 53003 is "blocked by Conditional Access" (the authentication-flows
# policy that blocks device code answers with it); the others are its relatives.
_CA_CODES = {
    53000: "the device is not compliant with the organisation's policy",
    53001: "the device is not joined to the organisation's domain",
    53002: "the app is not an approved client app for the organisation",
    53003: "a Conditional Access policy blocks this sign-in",
    53004: "the account must complete multi-factor registration first",
    50097: "the policy requires device authentication",
}
_CONSENT_CODES = {65001}
_SESSION_ENDED_CODES = {50173, 70008, 70043, 700082, 700084, 50133, 50089, 50076, 50079, 50078}


def _now() -> float:
    return time.time()


# -- typed errors ---------------------------------------------------------------------------------


class SignInCancelled(SignInError):
    """The operator cancelled the sign-in."""

    code = "cancelled"
    default_title = "Sign-in cancelled"


class DeviceCodeExpired(SignInError):
    """The device code ran out before anyone entered it; a new one can be issued."""

    code = "expired"
    default_title = "The sign-in code expired"


class SignInDeclined(SignInError):
    """The person at the browser declined the sign-in."""

    code = "declined"
    default_title = "Sign-in declined"


class ConditionalAccessBlocked(SignInError):
    """A Conditional Access policy refused the sign-in (AADSTS53003 and relatives)."""

    code = "ca_blocked"
    default_title = "Blocked by Conditional Access"

    def __init__(self, explanation: str, *, aadsts: int, **kwargs: Any) -> None:
        super().__init__(explanation, **kwargs)
        self.aadsts = aadsts


class ConsentRequired(SignInError):
    """A permission the checks need has not been consented to in this tenant."""

    code = "consent_required"
    default_title = "Permission not granted"

    def __init__(self, explanation: str, *, scopes: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(explanation, **kwargs)
        self.scopes = scopes


class SignInRequired(SignInError):
    """No cached sign-in can be used silently: someone has to sign in (again)."""

    code = "signin_required"
    default_title = "Sign-in required"


class AccountChoiceRequired(SignInError):
    """Several accounts are cached; the operator must choose one."""

    code = "account_choice"
    default_title = "Choose an account"

    def __init__(self, explanation: str, *, accounts: list[CachedAccount], **kwargs: Any) -> None:
        super().__init__(explanation, **kwargs)
        self.accounts = accounts


class BrowserSignInUnavailable(SignInError):
    """The browser flow cannot be used here (SSH, no desktop, or only a console browser)."""

    code = "browser_unavailable"
    default_title = "Browser sign-in not available here"


class AppNotUsable(SignInError):
    """The application (client) ID cannot be used in this tenant as configured."""

    code = "app_not_usable"
    default_title = "The sign-in application is not usable"


class TenantNotFound(SignInError):
    """The identity provider does not know the tenant."""

    code = "tenant_not_found"
    default_title = "Tenant not found"


class IdentityProviderError(SignInError):
    """Any other refusal from the identity provider (the AADSTS code is kept)."""

    code = "idp_error"


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

    ``link_allowed`` says whether ``verification_uri`` may be opened or shown as a link (a Microsoft
    host or a configured endpoint). The device code itself stays inside, out of ``repr``.
    """

    user_code: str
    verification_uri: str
    expires_at: float
    message: str
    interval: int
    link_allowed: bool
    _flow: dict = field(repr=False, compare=False, default_factory=dict)
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
        return tuple(ROLE_NAMES.get(rid, rid) for rid in self.role_template_ids if rid != DEFAULT_USER_ROLE)

    @property
    def may_manage_defender_experts(self) -> bool:
        """Security Administrator or Global Administrator, as hinted by the token."""
        return bool({SECURITY_ADMINISTRATOR, GLOBAL_ADMINISTRATOR} & set(self.role_template_ids))

    def missing_scopes_explanation(self) -> str:
        """Plain words on the permissions not granted, or '' when all were."""
        return explain_missing_scopes(self.missing_scopes) if self.missing_scopes else ""


@dataclass(frozen=True)
class BrowserPolicy:
    """Whether the browser flow may be used here, and why not."""

    allowed: bool
    reason: str


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


def aadsts_codes(result: Mapping[str, Any]) -> list[int]:
    """The AADSTS error codes of an error reply (from ``error_codes`` or the description)."""
    codes = [c for c in result.get("error_codes") or [] if isinstance(c, int)]
    for match in re.findall(r"AADSTS(\d+)", str(result.get("error_description") or "")):
        if int(match) not in codes:
            codes.append(int(match))
    return codes


def _describe(result: Mapping[str, Any]) -> str:
    """The first line of the provider's error description, cleaned (it is server text)."""
    text = str(result.get("error_description") or result.get("error") or "no description")
    return clean_text(text.strip().splitlines()[0] if text.strip() else text, limit=300)


def is_ssh_session(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"))


def has_local_desktop(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """A browser could open on this very screen: not SSH, and a desktop session."""
    if is_ssh_session(environ):
        return False
    if platform in ("win32", "darwin"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def classify_flow_error(result: Mapping[str, Any], *, context: str) -> SignInError:
    """A typed, explained error for an MSAL error reply (``context`` says what was being done)."""
    error = str(result.get("error") or "")
    codes = aadsts_codes(result)
    detail = _describe(result)
    for code in codes:
        if code in _CA_CODES:
            return ConditionalAccessBlocked(
                f"Microsoft Entra refused the sign-in: {_CA_CODES[code]} (AADSTS{code}). When it happens "
                "during a device code sign-in, it is usually the Conditional Access policy that blocks "
                "the device code flow (Conditional Access > Authentication flows).",
                aadsts=code,
                next_step="Sign in another way: run dex-tui on a local desktop and choose the browser "
                          "sign-in; or from an SSH session forward a port (ssh -L 8400:localhost:8400 "
                          "HOST) and run 'dex-tui signin --browser --port 8400', then open the printed "
                          "address on your own machine; or run it from a compliant device or an allowed "
                          "location. Your Conditional Access administrator can tell you which applies.")
    if error in ("authorization_declined", "access_denied") or 65004 in codes:
        return SignInDeclined(
            "The sign-in (or the consent it asked for) was declined at the sign-in page.",
            next_step="Start the sign-in again and approve it, or sign in with another account.")
    if any(c in _CONSENT_CODES for c in codes) or error == "consent_required":
        return ConsentRequired(
            f"The delegated permissions dex-tui asks for ({', '.join(GRAPH_SCOPES)}) have not all been "
            f"consented to in this tenant ({detail}).",
            scopes=tuple(GRAPH_SCOPES),
            next_step=f"Ask someone with the {DEFAULT_CONSENT_ROLE} role to sign in once and consent "
                      "on behalf of the organisation, or to grant admin consent to the app in the "
                      "Microsoft Entra admin center (Enterprise applications > the app > Permissions).")
    if 7000218 in codes or error == "invalid_client":
        return AppNotUsable(
            f"The application does not allow public client flows, which the device code and browser "
            f"sign-ins need ({detail}).",
            next_step="In the app registration set Authentication > Allow public client flows to Yes, "
                      "wait a minute, and sign in again; or use the default client ID.")
    if 700016 in codes or error == "unauthorized_client":
        return AppNotUsable(
            f"The application (client) ID is not known in this tenant ({detail}).",
            next_step="Check --client-id and --tenant, or register the app in this tenant (see the "
                      "README, 'Client ID').")
    if 50105 in codes:
        return AppNotUsable(
            f"Your account is not assigned to the sign-in application ({detail}).",
            next_step="Ask an administrator to assign you to the enterprise application, or use an "
                      "account that is assigned.")
    if 90002 in codes or error == "invalid_tenant":
        return TenantNotFound(
            f"The identity provider does not know this tenant ({detail}).",
            next_step="Check --tenant (a tenant ID or a verified domain) and --cloud.")
    if error == "expired_token":
        return DeviceCodeExpired(
            "The code was not entered before it expired.",
            next_step="Ask for a new code and enter it within its lifetime.")
    if error == "bad_verification_code":
        return IdentityProviderError(
            "The identity provider did not recognise the device code.", title="Sign-in failed",
            next_step="Start the sign-in again.")
    if error in ("invalid_grant", "interaction_required") or any(c in _SESSION_ENDED_CODES for c in codes):
        return SignInRequired(
            f"Microsoft Entra asks for a new sign-in ({detail}): the saved session expired or was "
            "revoked, or the tenant now requires more (for example multi-factor authentication).",
            next_step="Sign in again.")
    if error == "invalid_scope" or 70011 in codes:
        return IdentityProviderError(
            f"The identity provider refused the requested permissions ({detail}).",
            title="Permission request refused",
            next_step="Check that --cloud and the endpoints match the tenant's cloud.")
    if 500011 in codes:
        return IdentityProviderError(
            f"The API is not present in this tenant ({detail}).", title="API not available",
            next_step="The Defender for Endpoint API appears once Microsoft Defender for Endpoint is "
                      "provisioned in the tenant.")
    code_text = ", ".join(f"AADSTS{c}" for c in codes) or error or "unknown error"
    return IdentityProviderError(
        f"{context} failed: {detail} ({code_text}).", title="Sign-in failed",
        next_step="Try again; if it keeps failing, give this message to your identity administrator.")


def _network_error(exc: BaseException, host: str, doing: str) -> NetworkError:
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(
            f"The TLS certificate of {host} could not be verified while {doing}.",
            title="Certificate not trusted",
            next_step="If your network inspects TLS, pass its CA with --ca-bundle FILE.")
    if isinstance(exc, requests.ReadTimeout):
        return NetworkError(
            f"{host} sent no answer within the read timeout while {doing} ({type(exc).__name__}).",
            next_step="Check the network and the proxy settings, then try again.")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return NetworkError(
            f"The connection to {host} broke while reading its answer while {doing} ({type(exc).__name__}).",
            next_step="Check the network and the proxy settings, then try again.")
    if isinstance(exc, requests.RequestException):
        return NetworkError(
            f"{host} could not be reached while {doing} ({type(exc).__name__}).",
            next_step="Check the network, the proxy settings and --login-url, then try again.")
    if isinstance(exc, msal.exceptions.MsalServiceError):
        return NetworkError(
            f"{host} answered with a server error while {doing} ({clean_text(exc, 120)}).",
            next_step="Wait a minute and try again.")
    return NetworkError(
        f"{host} sent a reply that could not be understood while {doing} ({type(exc).__name__}).",
        next_step="Check --login-url: it must point to a Microsoft identity platform (v2.0) endpoint.")


_CALL_ERRORS = (requests.RequestException, msal.exceptions.MsalServiceError, ValueError, KeyError)


# -- the authenticator ----------------------------------------------------------------------------


class Authenticator:
    """Signs one operator in against one authority and hands out tokens silently afterwards.

    ``login_url`` is the identity host root (cloud table, ``--login-url`` or the demo host);
    ``tenant`` is the tenant segment (``organizations`` when none was given). ``session`` is the
    run's one HTTP session. ``store`` is the token cache (load it before use; this class saves it).
    """

    def __init__(self, *, client_id: str, login_url: str, tenant: str, session: requests.Session,
                 store: TokenCacheStore, graph_scopes: Iterable[str] = GRAPH_SCOPES,
                 extra_link_hosts: Iterable[str] = (), environ: Mapping[str, str] | None = None,
                 on_signed_in: Callable[[SignedIn], None] | None = None) -> None:
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
        self._app: msal.PublicClientApplication | None = None
        self._account: dict | None = None
        self._signed_in: SignedIn | None = None
        self._graph_silent_scopes: tuple[str, ...] = self.graph_scopes
        self._on_signed_in = on_signed_in

    # -- state --

    @property
    def signed_in(self) -> SignedIn | None:
        """The current sign-in, or None."""
        return self._signed_in

    # -- apps --

    def _new_app(self) -> msal.PublicClientApplication:
        """A fresh MSAL app (does OpenID discovery over the network)."""
        self.store.load()
        try:
            return msal.PublicClientApplication(
                self.client_id, authority=self.authority, token_cache=self.store.cache,
                http_client=self.session, instance_discovery=False)
        except ValueError as exc:
            raise self._discovery_error(exc) from None
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise _network_error(exc, self._host, "reading the sign-in configuration") from None

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

    def _silent_app(self) -> msal.PublicClientApplication:
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
        return cached_accounts(self.store, host=self._host, tenant=self.tenant if _is_guid(self.tenant) else None)

    def restore(self, account: CachedAccount | None = None) -> SignedIn | None:
        """Sign in silently from the cache.

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
        app = self._silent_app()
        msal_account = self._msal_account(app, account.home_account_id)
        if msal_account is None:
            return None
        result = self._call(app, "Signing in from the saved session",
                            lambda: app.acquire_token_silent_with_error(list(self.graph_scopes), msal_account))
        if result is None:
            return None
        if "error" in result:
            self._drop_app()
            raise classify_flow_error(result, context="Signing in from the saved session")
        return self._finish(app, result, msal_account, method="cache")

    def choose_account(self, username: str) -> CachedAccount:
        """The cached account with this username (case-insensitive); SignInRequired when none."""
        for candidate in self.accounts():
            if candidate.username.lower() == username.strip().lower():
                return candidate
        raise SignInRequired(f"No remembered sign-in for {clean_text(username)!r} on this machine.",
                             next_step="Sign in with that account, or run dex-tui signin without --account.")

    # -- device code --

    def start_device_flow(self) -> DeviceCodePrompt:
        """Ask for a new device code (a fresh MSAL app each time). Blocks for a few requests."""
        app = self._new_app()
        try:
            flow = app.initiate_device_flow(scopes=list(self.graph_scopes))
        except _CALL_ERRORS as exc:
            raise _network_error(exc, self._host, "asking for a sign-in code") from None
        if "user_code" not in flow:
            raise classify_flow_error(flow, context="Asking for a sign-in code")
        uri = str(flow.get("verification_uri") or flow.get("verification_url") or "")
        return DeviceCodePrompt(
            user_code=clean_text(flow["user_code"], limit=40),
            verification_uri=clean_text(uri, limit=300),
            expires_at=float(flow.get("expires_at") or (_now() + int(flow.get("expires_in", 900)))),
            message=clean_text(flow.get("message") or "", limit=500),
            interval=int(flow.get("interval") or 5),
            link_allowed=is_allowed_link(uri, self._link_hosts),
            _flow=flow, _app=app)

    def complete_device_flow(self, prompt: DeviceCodePrompt,
                             is_cancelled: Callable[[], bool] = lambda: False) -> SignedIn:
        """Wait until the code is entered (or cancelled, or expired) and finish the sign-in.

        Returns within about a second of ``is_cancelled()`` turning true (raising
        :class:`SignInCancelled`); raises :class:`DeviceCodeExpired` when the code ran out (call
        :meth:`start_device_flow` again for a new one), or another typed :class:`SignInError`.
        """
        app, flow = prompt._app, prompt._flow
        if app is None or not flow:
            raise ValueError("a DeviceCodePrompt from start_device_flow is needed")

        def exit_condition(current: dict) -> bool:
            return bool(is_cancelled()) or current.get("expires_at", 0) < _now()

        try:
            result = app.acquire_token_by_device_flow(flow, exit_condition=exit_condition)
        except _CALL_ERRORS as exc:
            raise _network_error(exc, self._host, "waiting for the sign-in") from None
        if "access_token" in result:
            return self._finish(app, result, None, method="device_code")
        if result.get("error") in ("authorization_pending", "slow_down"):
            if is_cancelled():
                raise SignInCancelled("The sign-in was cancelled.", next_step="Start it again when ready.")
            raise DeviceCodeExpired("The code was not entered before it expired.",
                                    next_step="Ask for a new code and enter it within its lifetime.")
        raise classify_flow_error(result, context="The device code sign-in")

    def sign_in_with_device_code(self, show: Callable[[DeviceCodePrompt], None],
                                 is_cancelled: Callable[[], bool] = lambda: False,
                                 max_codes: int = 3) -> SignedIn:
        """The whole device code sign-in, issuing a new code when one expires (at most ``max_codes``)."""
        for attempt in range(1, max_codes + 1):
            prompt = self.start_device_flow()
            show(prompt)
            try:
                return self.complete_device_flow(prompt, is_cancelled)
            except DeviceCodeExpired:
                if attempt == max_codes or is_cancelled():
                    raise
                log.info("device code expired; issuing a new one (%d of %d)", attempt + 1, max_codes)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- browser --

    def browser_policy(self) -> BrowserPolicy:
        """Whether the browser flow may be offered here (a local desktop with a graphical browser)."""
        from dex_tui.loopback import graphical_browser_available

        if is_ssh_session(self.environ):
            return BrowserPolicy(False, "this is an SSH session: a browser would open on the remote "
                                        "machine, not in front of you")
        if not has_local_desktop(self.environ):
            return BrowserPolicy(False, "there is no desktop session here (no DISPLAY or WAYLAND_DISPLAY)")
        ok, why = graphical_browser_available()
        return BrowserPolicy(ok, why)

    def sign_in_with_browser(self, *, is_cancelled: Callable[[], bool] = lambda: False,
                             show_url: Callable[[str], None] = lambda url: None, port: int = 0,
                             open_browser: bool = True, timeout: float = 600.0) -> SignedIn:
        """The authorization code flow with PKCE through a loopback redirect on ``localhost:port``.

        With ``open_browser`` (a local desktop only: :meth:`browser_policy` must allow it) a
        graphical browser is opened; otherwise, or when it cannot open, ``show_url`` receives the
        address to open by hand (the ``ssh -L PORT:localhost:PORT`` case). Cancellable within about
        half a second through ``is_cancelled``.
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
        app = self._new_app()
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
                raise _network_error(exc, self._host, "preparing the browser sign-in") from None
            auth_uri = flow["auth_uri"]
            opened = open_in_graphical_browser(auth_uri) if open_browser else False
            if not opened:
                show_url(auth_uri)
            reply = receiver.wait(is_cancelled=is_cancelled, timeout=timeout)
        if reply is None:
            if is_cancelled():
                raise SignInCancelled("The sign-in was cancelled.", next_step="Start it again when ready.")
            raise SignInCancelled("No answer came back from the browser in time.",
                                  title="Sign-in timed out", next_step="Start the sign-in again.")
        if "error" in reply:
            raise classify_flow_error(reply, context="The browser sign-in")
        try:
            result = app.acquire_token_by_auth_code_flow(flow, reply, scopes=list(self.graph_scopes))
        except _CALL_ERRORS as exc:
            raise _network_error(exc, self._host, "finishing the browser sign-in") from None
        if "access_token" not in result:
            raise classify_flow_error(result, context="The browser sign-in")
        return self._finish(app, result, None, method="browser")

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
            if isinstance(error, ConsentRequired):
                missing = tuple(s.rsplit("/", 1)[-1] for s in scopes)
                raise ConsentRequired(
                    f"The delegated permission {', '.join(missing)} on {resource} has not been consented "
                    f"to in this tenant. {explain_missing_scopes(missing, resource)}.",
                    scopes=missing, next_step=error.next_step)
            raise error
        self.store.save()
        token = result["access_token"]
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

    def _call(self, app: msal.PublicClientApplication, doing: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except _CALL_ERRORS as exc:
            self._drop_app()
            raise _network_error(exc, self._host, doing.lower()) from None

    @staticmethod
    def _msal_account(app: msal.PublicClientApplication, home_account_id: str) -> dict | None:
        for candidate in app.get_accounts():
            if candidate.get("home_account_id") == home_account_id:
                return candidate
        return None

    def _finish(self, app: msal.PublicClientApplication, result: dict, account: dict | None,
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

    def _cached_id_claims(self, account: dict) -> dict:
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


_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _is_guid(value: str) -> bool:
    return bool(_GUID_RE.match(value or ""))


__all__ = [
    "AccountChoiceRequired", "AppNotUsable", "Authenticator", "BrowserPolicy", "BrowserSignInUnavailable",
    "CachedAccount", "ConditionalAccessBlocked", "ConsentRequired", "DeviceCodeExpired", "DeviceCodePrompt",
    "IdentityProviderError", "MDE_APP_NAME", "MDE_SCOPE_NAME", "ROLE_NAMES", "SignInCancelled",
    "SignInDeclined", "SignInRequired", "SignedIn", "TenantNotFound", "cached_accounts", "classify_flow_error",
    "explain_missing_scopes", "has_local_desktop", "is_ssh_session", "token_claims",
]
