"""Unattended runs: ``dex-tui check`` signs in as an application with a certificate (MSAL's confidential
client, the client-credentials grant with a signed assertion), for scheduled runs in CI.

The certificate comes from ``--client-certificate PEM`` (with ``--certificate-thumbprint`` when the PEM
holds only the private key) or from the environment (:data:`ENV_CERTIFICATE`, :data:`ENV_THUMBPRINT`,
:data:`ENV_PASSPHRASE` for an encrypted key). It is read once, size-capped, checked (an RSA key, the
certificate matching it, not expired, the thumbprint matching) and kept in memory as a key object: the
private key is never logged, copied to a file, put in a report, a state file or an error message, and
the tokens stay in MSAL's in-memory cache. Every problem with it is a :class:`CertificateError` (exit 3).

An application has no signed-in person, so the checks that read ``/me`` (``operator.roles``) are
``skipped`` with why, and their reads are not made. The application permissions it needs are
:data:`APPLICATION_PERMISSIONS` (the README lists them next to the delegated ones).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msal
import requests

from dex_tui.errors import SignInError, UsageError
from dex_tui.localfiles import NotRegularFile, TooLarge, read_regular
from dex_tui.records import dataclass
from dex_tui.safety import clean_text
from dex_tui.signin_errors import network_error

if TYPE_CHECKING:
    from dex_tui.answers import Answers
    from dex_tui.engine import Checker
    from dex_tui.results import CheckResult
    from dex_tui.runtime import Runtime

logging.getLogger("msal").setLevel(logging.WARNING)  # its DEBUG log shows request parameters

ENV_CERTIFICATE = "DEX_TUI_CLIENT_CERTIFICATE"
ENV_THUMBPRINT = "DEX_TUI_CLIENT_CERTIFICATE_THUMBPRINT"
ENV_PASSPHRASE = "DEX_TUI_CLIENT_CERTIFICATE_PASSPHRASE"
MAX_PEM_BYTES = 1024 * 1024  # a key and a chain of a few certificates is a few KB
PERSON_READS = frozenset({"me", "member_of"})  # reads of the signed-in person: none for an application

# The application permissions (admin consent required) the checks need, per API; verified on each API's
# Learn page (Permissions, "Application" row) except where the README says so.
APPLICATION_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Microsoft Graph": ("Organization.Read.All", "LicenseAssignment.Read.All", "User.Read.All", "Policy.Read.All",
                        "CrossTenantInformation.ReadBasic.All"),
    "WindowsDefenderATP": ("Machine.Read.All",),
}

_HEX = re.compile(r"^[0-9A-F]+$")


class CertificateError(SignInError):
    """The client certificate is missing, unreadable, or not usable for signing in (exit 3)."""

    default_title = "Client certificate not usable"


class CertificateRejected(SignInError):
    """Microsoft Entra refused the application's sign-in with the certificate (exit 3)."""

    default_title = "Certificate refused"


@dataclass(frozen=True)
class ClientCertificate:
    """A checked client certificate. The private key is a key object, out of ``repr`` and comparisons."""

    source: str  # how it was named, for messages: "--client-certificate 'ci.pem'"
    sha1: str  # hex, upper case
    sha256: str  # hex, upper case; "" when the PEM holds no certificate
    subject: str
    not_after: str  # ISO 8601, "" when unknown
    certificate_pem: str = field(repr=False, default="")
    _key: Any = field(repr=False, compare=False, default=None)

    def credential(self) -> dict[str, Any]:
        """MSAL's ``client_credential``: with the certificate, MSAL signs PS256 with its SHA-256 thumbprint
        (``x5t#S256``); with a thumbprint only, RS256 with the SHA-1 one (``x5t``)."""
        if self.certificate_pem:
            return {"private_key": self._key, "public_certificate": self.certificate_pem}
        return {"private_key": self._key, "thumbprint": self.sha1}


def certificate_source(option: Path | None, thumbprint: str | None,
                       environ: Mapping[str, str] | None = None) -> tuple[Path, str, str | None, str | None] | None:
    """(path, how it was named, thumbprint, passphrase) from the option or the environment, or None."""
    env = os.environ if environ is None else environ
    passphrase = env.get(ENV_PASSPHRASE) or None
    thumb = thumbprint or env.get(ENV_THUMBPRINT) or None
    if option is not None:
        return option, f"--client-certificate {str(option)!r}", thumb, passphrase
    if env.get(ENV_CERTIFICATE):
        path = Path(env[ENV_CERTIFICATE])
        return path, f"{ENV_CERTIFICATE} ({str(path)!r})", thumb, passphrase
    if thumbprint:
        raise UsageError("--certificate-thumbprint needs --client-certificate PEM (or "
                         f"{ENV_CERTIFICATE}).")
    return None


def _read_pem(path: Path, source: str) -> bytes:
    too_big = f"{source} is larger than 1 MB, far more than a key and its certificate."
    try:
        return read_regular(path, MAX_PEM_BYTES)
    except FileNotFoundError:
        raise CertificateError(f"{source} does not exist.",
                               next_step="Give the PEM file holding the application's private key and "
                                         "certificate.") from None
    except NotRegularFile:
        raise CertificateError(f"{source} is not a regular file.",
                               next_step="Give the PEM file holding the private key and certificate.") from None
    except TooLarge:
        raise CertificateError(too_big) from None
    except OSError as exc:
        raise CertificateError(f"{source} cannot be read ({exc.strerror}).",
                               next_step="Check the path and that this user may read it.") from None


def _normal_thumbprint(text: str) -> str:
    value = re.sub(r"[\s:]", "", text).upper()
    if not _HEX.match(value) or len(value) not in (40, 64):
        raise CertificateError("The certificate thumbprint must be 40 hexadecimal digits (SHA-1, as the app "
                               "registration shows it) or 64 (SHA-256).",
                               next_step="Copy it from the app registration > Certificates & secrets.")
    return value


def load_client_certificate(path: Path, *, source: str | None = None, thumbprint: str | None = None,
                            passphrase: str | None = None, now: datetime | None = None) -> ClientCertificate:
    """Read and check a PEM file holding an RSA private key and (normally) its certificate."""
    # cryptography is imported here, not at the top: only a certificate sign-in needs it (~50 ms).
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    source = source or f"--client-certificate {str(path)!r}"
    data = _read_pem(path, source)
    if b"PRIVATE KEY-----" not in data:
        raise CertificateError(f"{source} holds no private key (-----BEGIN PRIVATE KEY-----).",
                               next_step="Give the PEM file with the private key (and the certificate) the "
                                         "application signs in with.")
    key_block = re.search(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", data, re.S)
    if key_block is None:
        raise CertificateError(f"{source} holds a truncated private key.")
    try:
        key = serialization.load_pem_private_key(key_block.group(0),
                                                 password=passphrase.encode("utf-8") if passphrase else None)
    except TypeError:
        if passphrase:
            raise CertificateError(f"The private key in {source} is not encrypted, but {ENV_PASSPHRASE} is set.",
                                   next_step=f"Unset {ENV_PASSPHRASE}.") from None
        raise CertificateError(f"The private key in {source} is encrypted.",
                               next_step=f"Put its passphrase in the environment variable {ENV_PASSPHRASE} "
                                         "(never on the command line).") from None
    except ValueError:
        what = "cannot be decrypted with the passphrase in " + ENV_PASSPHRASE if passphrase else "cannot be read"
        raise CertificateError(f"The private key in {source} {what}.",
                               next_step="Check the file (and the passphrase).") from None
    except Exception as exc:  # cryptography's unsupported-algorithm errors and the like
        raise CertificateError(f"The private key in {source} cannot be used ({type(exc).__name__}).") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError(f"The private key in {source} is not an RSA key; MSAL signs the sign-in "
                               "assertion with RS256 or PS256, which need one.",
                               next_step="Create an RSA certificate (2048 bits or more) for the application.")
    certs = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S)
    given = _normal_thumbprint(thumbprint) if thumbprint else None
    if not certs:
        if given is None or len(given) != 40:
            raise CertificateError(f"{source} holds no certificate, so its thumbprint cannot be computed.",
                                   next_step="Add the certificate to the PEM file, or give its SHA-1 thumbprint "
                                             f"(--certificate-thumbprint or {ENV_THUMBPRINT}).")
        return ClientCertificate(source=source, sha1=given, sha256="", subject="", not_after="", _key=key)
    try:
        cert = x509.load_pem_x509_certificate(certs[0])
    except ValueError:
        raise CertificateError(f"The certificate in {source} cannot be read.") from None
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != key.public_key().public_numbers():
        raise CertificateError(f"The first certificate in {source} does not belong to its private key.",
                               next_step="Put the application's certificate first, with its own private key.")
    sha1 = cert.fingerprint(hashes.SHA1()).hex().upper()
    sha256 = cert.fingerprint(hashes.SHA256()).hex().upper()
    if given is not None and given not in (sha1, sha256):
        raise CertificateError(f"The thumbprint given ({given}) is not that of the certificate in {source} "
                               f"({sha1}).", next_step="Give the thumbprint of this certificate, or leave it out "
                                                       "(it is computed from the certificate).")
    moment = now or datetime.now(UTC)
    ends = cert.not_valid_after_utc
    if ends < moment:
        raise CertificateError(f"The certificate in {source} (thumbprint {sha1}) expired on "
                               f"{ends:%Y-%m-%d}.", next_step="Create a new certificate, upload its public part "
                                                              "to the app registration, and use it.")
    if cert.not_valid_before_utc > moment:
        raise CertificateError(f"The certificate in {source} (thumbprint {sha1}) is not valid before "
                               f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
                               next_step="Check this machine's clock, or wait.")
    return ClientCertificate(source=source, sha1=sha1, sha256=sha256, subject=clean_text(cert.subject.rfc4514_string(), 200),
                             not_after=ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             certificate_pem=certs[0].decode("ascii"), _key=key)


# ------------------------------------------------------------------------------------ signing in


@dataclass(frozen=True)
class AppSignedIn:
    """The application that signed in (no person). Shaped like ``auth.SignedIn`` where the report reads it."""

    client_id: str
    tenant_id: str
    display_name: str
    thumbprint: str
    granted_roles: tuple[str, ...]  # the token's ``roles`` claim (a hint: unverified claims)
    method: str = "certificate"
    username: str = ""

    def missing_permissions(self) -> tuple[str, ...]:
        """The Graph application permissions the checks need that the token does not carry."""
        return tuple(p for p in APPLICATION_PERMISSIONS["Microsoft Graph"] if p not in self.granted_roles)


_CERT_REFUSALS = {7000215, 7000218, 7000222, 700027, 700021, 700023, 700024, 50027}


def _refusal(result: Mapping[str, Any], certificate: ClientCertificate, client_id: str) -> SignInError:
    from dex_tui.signin_errors import AppNotUsable, aadsts_codes, classify_flow_error

    codes = aadsts_codes(result)
    detail = clean_text(str(result.get("error_description") or result.get("error") or "").strip().split("\n")[0], 300)
    if 700027 in codes:
        return CertificateRejected(
            f"Microsoft Entra refused the certificate (thumbprint {certificate.sha1}) for the application "
            f"{clean_text(client_id, 60)}: it is not one registered for the app, or the signature does not "
            f"verify ({detail}).",
            next_step="Upload the certificate's public part to the app registration (Certificates & secrets), or "
                      "use the certificate that is registered there; check --client-id and --tenant.")
    if 700024 in codes:
        return CertificateRejected(f"Microsoft Entra says the sign-in assertion is outside its valid time ({detail}).",
                                   next_step="Check this machine's clock (it must be within a few minutes).")
    if any(c in _CERT_REFUSALS for c in codes):
        return CertificateRejected(f"Microsoft Entra refused the application's credential ({detail}).",
                                   next_step="Check the certificate, --client-id and --tenant.")
    if 700016 in codes or result.get("error") == "unauthorized_client":
        return AppNotUsable(f"The application {clean_text(client_id, 60)} is not known in this tenant ({detail}).",
                            next_step="Check --client-id and --tenant; the app must be registered (or consented "
                                      "to) in the tenant it checks.")
    return classify_flow_error(result, context="Signing in as the application")


class AppSignIn:
    """Signs one application in with a certificate and hands out app-only tokens (MSAL's in-memory cache).

    Worker threads only (network). ``graph_resource`` and ``mde_resource`` are the APIs' identifiers in
    the run's cloud (``https://graph.microsoft.com``, ``https://api.securitycenter.microsoft.com``).
    """

    def __init__(self, *, client_id: str, login_url: str, tenant: str, session: requests.Session,
                 certificate: ClientCertificate, graph_resource: str, mde_resource: str) -> None:
        self.client_id = client_id
        self.authority = f"{login_url.rstrip('/')}/{tenant}"
        self.session = session
        self.certificate = certificate
        self.graph_resource = graph_resource.rstrip("/")
        self.mde_resource = mde_resource.rstrip("/")
        self._host = urlsplit(login_url).hostname or login_url
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None

    def _client(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id, client_credential=self.certificate.credential(), authority=self.authority,
                        http_client=self.session, instance_discovery=False)
                except ValueError as exc:
                    raise SignInError(f"{self._host} gave no usable sign-in configuration for "
                                      f"{clean_text(self.authority, 200)} ({clean_text(exc, 200)}).",
                                      next_step="Check --tenant, --cloud and --login-url.") from None
                except requests.RequestException as exc:
                    raise network_error(exc, self._host, "reading the sign-in configuration") from None
            return self._app

    def _token(self, resource: str, *, force_refresh: bool = False) -> str:
        app = self._client()
        try:
            if force_refresh:
                app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes=[f"{resource}/.default"])
        except requests.RequestException as exc:
            raise network_error(exc, self._host, "signing in as the application") from None
        except ValueError as exc:  # the key could not sign (MSAL hands PyJWT's error on)
            raise CertificateError(f"The sign-in assertion could not be signed with {self.certificate.source} "
                                   f"({type(exc).__name__}).") from None
        if not isinstance(result, dict) or "access_token" not in result:
            raise _refusal(result if isinstance(result, dict) else {}, self.certificate, self.client_id)
        return str(result["access_token"])

    def graph_token(self, *, force_refresh: bool = False) -> str:
        return self._token(self.graph_resource, force_refresh=force_refresh)

    def mde_token(self, *, force_refresh: bool = False) -> str:
        if not self.mde_resource:
            from dex_tui.errors import CannotEvaluate

            raise CannotEvaluate("The Defender for Endpoint API does not exist in this cloud.",
                                 title="API not available", next_step="Device checks cannot run in this cloud.")
        return self._token(self.mde_resource, force_refresh=force_refresh)

    def sign_in(self) -> AppSignedIn:
        """Get a Graph token (proving the certificate) and say which application signed in."""
        from dex_tui.auth import token_claims

        claims = token_claims(self.graph_token())
        raw = claims.get("roles")
        roles: list[Any] = raw if isinstance(raw, list) else []
        return AppSignedIn(client_id=self.client_id,
                           tenant_id=clean_text(claims.get("tid") or "", 80),
                           display_name=clean_text(claims.get("app_displayname") or "", 200),
                           thumbprint=self.certificate.sha1,
                           granted_roles=tuple(clean_text(r, 100) for r in roles if isinstance(r, str)))


# ------------------------------------------------------------------------------------ the run


class AppRun:
    """``dex-tui check`` as an application: sign-in, the checks without a person, the report's operator."""

    def __init__(self, runtime: Runtime, certificate: ClientCertificate) -> None:
        settings = runtime.settings
        tenant = settings.tenant or (runtime.fake_cloud.scenario.tenant_id if runtime.fake_cloud else None)
        if not tenant:
            raise UsageError("Signing in as an application needs the tenant: give --tenant (its ID or a verified "
                             "domain).", next_step="For example --tenant contoso.onmicrosoft.com.")
        from dex_tui.settings import DEFAULT_CLIENT_ID

        if settings.client_id == DEFAULT_CLIENT_ID:
            raise UsageError("Signing in as an application needs your own app registration: give --client-id "
                             "(the application that holds the certificate).",
                             next_step="See 'Unattended runs' in the README.")
        self.runtime = runtime
        self.certificate = certificate
        self.tenant = tenant
        self.signed: AppSignedIn | None = None
        self.auth: AppSignIn | None = None

    def sign_in(self) -> AppSignedIn:
        runtime = self.runtime
        cloud = runtime.resolve_cloud().cloud
        self.auth = AppSignIn(client_id=runtime.settings.client_id, login_url=runtime.endpoints().login_url,
                              tenant=self.tenant, session=runtime.session, certificate=self.certificate,
                              graph_resource=cloud.graph_url, mde_resource=cloud.mde_resource)
        self.signed = self.auth.sign_in()
        return self.signed

    def checker(self) -> Checker:
        from dex_tui.engine import Checker, cloud_of
        from dex_tui.graph import GraphClient

        if self.auth is None:
            raise RuntimeError("sign_in() first")
        client = GraphClient(self.runtime.session, self.runtime.endpoints(), graph_token=self.auth.graph_token,
                             mde_token=self.auth.mde_token)
        return Checker(client, cloud_of(self.runtime))

    def run(self, checker: Checker, answers: Answers,
            on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        """Every check: those that need a signed-in person skipped with why (their reads not made), the
        others read and evaluated as usual; in the catalogue order."""
        from dex_tui.catalogue import CHECK_IDS

        person = person_checks()
        skipped = {check_id: skipped_for_application(check_id, answers.service) for check_id in person}
        if on_result is not None:
            for result in skipped.values():
                on_result(result)
        others = [i for i in CHECK_IDS if i not in person]
        results = {r.id: r for r in checker.refresh(others, answers, on_result=on_result)}
        results.update(skipped)
        return [results[i] for i in CHECK_IDS]

    def annotate(self, report: dict[str, Any]) -> dict[str, Any]:
        """The report's ``operator`` says the application signed in (its client ID and certificate
        thumbprint, both public), not a person."""
        signed = self.signed
        if signed is None:
            return report
        name = f"application {signed.display_name} ({signed.client_id})" if signed.display_name \
            else f"application {signed.client_id}"
        out = dict(report)
        out["operator"] = {"display_name": name, "user_principal_name": "", "roles": [],
                           "kind": "application", "client_id": signed.client_id,
                           "certificate_thumbprint": signed.thumbprint}
        return out


def person_checks() -> tuple[str, ...]:
    """The checks that cannot run without a signed-in person: those whose required reads include one of
    :data:`PERSON_READS` (today ``operator.roles``, which reads ``/me``)."""
    from dex_tui.catalogue import CHECK_IDS
    from dex_tui.checks import REGISTRY

    return tuple(i for i in CHECK_IDS if PERSON_READS & set(REGISTRY[i].reads))


def skipped_for_application(check_id: str, service: str) -> CheckResult:
    from dex_tui.checks import result
    from dex_tui.results import Status

    return result(check_id, service, Status.SKIPPED,
                  "Skipped: this run signed in as an application (a certificate), and this check needs a signed-in "
                  "person (it reads /me, the operator's own directory roles). Run 'dex-tui check' as the operator "
                  "to check it.", evidence={"signed_in_as": "application"})
