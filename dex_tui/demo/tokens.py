"""JWT-shaped tokens and the record of every token and device code the fake cloud issued.

The tokens look like Entra's (base64url header.claims.signature, claims aud, iss, tid, oid, upn,
preferred_username, scp, wids, exp) but the signature is an HMAC with a per-cloud secret: only the
fake itself can tell a genuine one from a forged one, which is all the fake needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import field
from typing import Any

from dex_tui.records import dataclass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT-shaped token, without checking the signature (tests and tools use it)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


@dataclass
class AccessGrant:
    """What an access token stands for."""

    audience: str  # "graph" or "mde"
    scopes: frozenset[str]
    role_ids: frozenset[str]
    expires_at: float
    user_id: str
    app_only: bool = False  # client credentials: ``scopes`` are application permissions, no user, no roles


@dataclass
class RefreshGrant:
    client_id: str
    user_id: str
    issued_at: str
    revoked: bool = False


@dataclass
class DeviceCode:
    code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    polls: int = 0
    approved: bool = False
    declined: bool = False
    redeemed: bool = False
    released: bool = False  # the operator acted at the verification page: the scenario's answer comes now


@dataclass
class TokenStore:
    """Issued tokens and device codes; the fake cloud holds it under its lock."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    access: dict[str, AccessGrant] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    id_tokens: set[str] = field(default_factory=set)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    auth_codes: set[str] = field(default_factory=set)  # browser sign-in authorization codes

    def sign(self, claims: dict[str, Any]) -> str:
        header = b64url(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "dex-tui-demo"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64url(mac)}"

    def verify(self, token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3:
            return False
        mac = hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        return hmac.compare_digest(b64url(mac), parts[2])

    def new_refresh_token(self, grant: RefreshGrant) -> str:
        token = "1.DEMO." + secrets.token_urlsafe(48)
        self.refresh[token] = grant
        return token

    def new_device_code(self, **kwargs: Any) -> DeviceCode:
        code = DeviceCode(code="DAQABAAEAAAD-demo-" + secrets.token_urlsafe(40), **kwargs)
        self.device_codes[code.code] = code
        return code

    def all_secrets(self) -> set[str]:
        return (set(self.access) | set(self.refresh) | set(self.id_tokens) | set(self.device_codes)
                | self.auth_codes)
