"""Sign-in errors: the typed :class:`~dex_tui.errors.SignInError` family and the classification of
the identity provider's error replies (AADSTS codes, OAuth error names) and of transport failures
during sign-in into those types, each with a plain explanation and the next step.

Outcomes MSAL reports vaguely are told apart here; nothing in this module talks to the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msal
import requests

from dex_tui.errors import NetworkError, SignInError
from dex_tui.safety import clean_text
from dex_tui.scopes import GRAPH_SCOPES

if TYPE_CHECKING:
    from dex_tui.auth import CachedAccount

DEFAULT_CONSENT_ROLE = "Global Administrator, Privileged Role Administrator or Cloud Application Administrator"

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


class IdentityProviderUnavailable(NetworkError):
    """The identity provider answered HTTP 429 or 5xx: busy, throttling or failing for a while.

    ``status`` is the HTTP status, ``retry_after`` the wait it asked for (seconds), if any, and
    ``doing`` what was being done. Sign-in tries again a few times (:class:`RetryPolicy`) before this
    reaches a person.
    """

    code = "idp_unavailable"
    default_title = "Sign-in service unavailable"

    def __init__(self, explanation: str, *, status: int, retry_after: float | None = None,
                 codes: tuple[int, ...] = (), doing: str = "", **kwargs: Any) -> None:
        super().__init__(explanation, **kwargs)
        self.status = status
        self.retry_after = retry_after
        self.codes = codes
        self.doing = doing


# -- classification -------------------------------------------------------------------------------


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


def network_error(exc: BaseException, host: str, doing: str) -> NetworkError:
    if isinstance(exc, requests.exceptions.SSLError):
        from dex_tui.http import tls_failure

        tls = tls_failure(exc, host)
        return NetworkError(f"{tls.explanation.rstrip('.')} (while {doing}).", title=tls.title,
                            next_step=tls.next_step)
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


__all__ = [
    "DEFAULT_CONSENT_ROLE",
    "AccountChoiceRequired", "AppNotUsable", "BrowserSignInUnavailable", "ConditionalAccessBlocked",
    "ConsentRequired", "DeviceCodeExpired", "IdentityProviderError", "IdentityProviderUnavailable",
    "SignInCancelled", "SignInDeclined", "SignInRequired", "TenantNotFound",
    "aadsts_codes", "classify_flow_error", "network_error",
]
