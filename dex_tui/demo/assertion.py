"""The fake identity platform's check of a client assertion (``private_key_jwt``, RFC 7523): the JWT an
application signs with its certificate's private key instead of sending a secret.

It does what Entra does with one (reference: the Learn page "Microsoft identity platform application
authentication certificate credentials"): the ``x5t#S256`` (SHA-256) or ``x5t`` (SHA-1) header names the
registered certificate, the signature is verified with its public key (RS256 or PS256, the two MSAL
sends), ``aud`` must be the token endpoint, ``iss`` and ``sub`` the client ID, and the time claims must
hold. Each refusal carries the AADSTS code Entra answers with (700027 for a key that is not registered
or a signature that does not verify).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dex_tui.records import dataclass

MAX_ASSERTION = 16 * 1024  # an assertion with an x5c chain of two certificates is about 4 KB
CLOCK_SKEW = 300


@dataclass(frozen=True)
class AssertionRefused(Exception):
    """Why an assertion is refused: the OAuth error, the AADSTS code, the text, the HTTP status."""

    error: str
    code: int
    text: str
    status: int = 401


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _thumbprints(pem: str) -> tuple[str, str, x509.Certificate]:
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return (cert.fingerprint(hashes.SHA256()).hex().upper(), cert.fingerprint(hashes.SHA1()).hex().upper(), cert)


def verify_assertion(assertion: str, *, client_id: str, token_endpoint: str, certificates: tuple[str, ...],
                     now: float) -> dict[str, Any]:
    """The assertion's claims when it is valid for ``client_id`` at ``token_endpoint``, signed by the key
    of one of ``certificates`` (PEM); otherwise :class:`AssertionRefused`."""
    malformed = AssertionRefused("invalid_client", 50027, "Invalid JWT token. The token format is not proper.", 400)
    if len(assertion) > MAX_ASSERTION or assertion.count(".") != 2:
        raise malformed
    head_b64, body_b64, signature_b64 = assertion.split(".")
    try:
        header = json.loads(_b64(head_b64))
        claims = json.loads(_b64(body_b64))
        signature = _b64(signature_b64)
    except (ValueError, binascii.Error):
        raise malformed from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise malformed
    alg = header.get("alg")
    if alg not in ("RS256", "PS256"):
        raise malformed  # MSAL signs with RS256 (a SHA-1 thumbprint) or PS256 (a certificate)
    by_sha256 = header.get("x5t#S256")
    by_sha1 = header.get("x5t")
    try:
        wanted = (_b64(by_sha256).hex().upper() if isinstance(by_sha256, str) else None,
                  _b64(by_sha1).hex().upper() if isinstance(by_sha1, str) else None)
    except (ValueError, binascii.Error):
        raise malformed from None
    shown = wanted[0] or wanted[1] or ""
    found = None
    for pem in certificates:
        sha256, sha1, cert = _thumbprints(pem)
        if (wanted[0] and wanted[0] == sha256) or (wanted[1] and wanted[1] == sha1):
            found = cert
            break
    if found is None:
        raise AssertionRefused(
            "invalid_client", 700027,
            f"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{shown[:64]}', Please visit the Azure Portal, Graph Explorer or directly use MS "
            f"Graph to see configured keys for app Id '{client_id}'.]")
    key = found.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise AssertionRefused("invalid_client", 700027, "Client assertion contains an invalid signature. "
                               "[Reason - The key type is not supported.]")
    scheme = (padding.PKCS1v15() if alg == "RS256"
              else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashlib.sha256().digest_size))
    try:
        key.verify(signature, f"{head_b64}.{body_b64}".encode("ascii"), scheme, hashes.SHA256())
    except InvalidSignature:
        start = found.not_valid_before_utc.strftime("%m/%d/%Y %H:%M:%S")
        end = found.not_valid_after_utc.strftime("%m/%d/%Y %H:%M:%S")
        raise AssertionRefused(
            "invalid_client", 700027,
            f"Client assertion contains an invalid signature. [Reason - The provided signature value did not match "
            f"the expected signature value., Thumbprint of key used by client: '{shown[:64]}', Found key "
            f"'Start={start}, End={end}']") from None
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRefused("invalid_client", 700021,
                               "Client assertion application identifier doesn't match 'client_id' parameter.")
    if claims.get("aud") != token_endpoint:
        raise AssertionRefused("invalid_client", 700023,
                               "Client assertion audience claim does not match Realm issuer.")
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float) \
            or exp + CLOCK_SKEW < now or nbf - CLOCK_SKEW > now:
        raise AssertionRefused("invalid_client", 700024, "Client assertion is not within its valid time range.")
    return claims
