"""The fake Microsoft identity platform v2: OpenID metadata, the device code endpoint, and the token
endpoint's device-code, refresh-token and client-credentials (certificate assertion, ``assertion.py``) grants, with the documented error replies
(reference/domain.md §5, reference/tech.md §1.10); plus the browser sign-in (``/authorize`` redirecting
to a loopback address, and the authorization-code grant with PKCE and the nonce echoed).

It also serves ``/devicelogin``, a small page where a person using ``dex-tui demo-server`` types
the user code and approves (or declines) the sign-in, as they would at microsoft.com/devicelogin.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from dex_tui.demo.catalogue import (
    GRAPH_APP_ID,
    GRAPH_APP_PERMISSION_NAMES,
    GRAPH_PERMISSION_NAMES,
    MDE_APP_PERMISSION_NAMES,
    MDE_PERMISSION_NAMES,
)
from dex_tui.demo.tokens import AccessGrant, RefreshGrant, b64url
from dex_tui.demo.wire import Reply, Request, aad_error, json_reply, text_reply
from dex_tui.scopes import GRAPH_SCOPES, MDE_SCOPE_NAME

if TYPE_CHECKING:
    from dex_tui.demo.cloud import FakeCloud

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_GUID_LEN = 36


class ScopeError(Exception):
    """A scope parameter the identity platform refuses: (error, AADSTS code, text)."""

    def __init__(self, error: str, code: int, text: str) -> None:
        super().__init__(text)
        self.error, self.code, self.text = error, code, text


def graph_resource(cloud_graph_url: str) -> str:
    """The Graph resource (audience) of a cloud: its public Graph root, e.g. https://graph.microsoft.com."""
    return cloud_graph_url.rstrip("/")


class Identity:
    """Identity platform endpoints of one fake tenant."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        scenario = cloud.scenario
        self.graph_resource = graph_resource(scenario.cloud.graph_url)
        self.mde_resource = scenario.cloud.mde_resource.rstrip("/")
        tenant_names = {scenario.tenant_id, scenario.initial_domain, *scenario.domains}
        self.tenant_names = {n.lower() for n in tenant_names} | {"organizations", "common"}
        self._auth_codes: dict[str, dict[str, str]] = {}  # browser sign-in codes -> the authorize request

    # ----------------------------------------------------------------- routing

    def route(self, req: Request) -> tuple[str, Callable[[Request], Reply]] | None:
        segments = [s for s in req.path.split("/") if s]
        if req.method == "GET" and segments == ["devicelogin"]:
            return "login.devicelogin", self.device_login_page
        if req.method == "POST" and segments == ["devicelogin"]:
            return "login.devicelogin", self.device_login_submit
        if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", "openid-configuration"] \
                and req.method == "GET":
            return "login.openid", self.openid_configuration
        if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "authorize"] and req.method == "GET":
            return "login.authorize", self.authorize
        if len(segments) == 4 and segments[1:3] == ["oauth2", "v2.0"] and req.method == "POST":
            if segments[3] == "devicecode":
                return "login.devicecode", self.device_authorization
            if segments[3] == "token":
                return "login.token", self.token
        return None

    # ----------------------------------------------------------------- helpers

    def _error(self, req: Request, status: int, error: str, code: int, text: str, **extra: Any) -> Reply:
        correlation = req.headers.get("client-request-id") or self.cloud.stable_uuid("correlation",
                                                                                      req.request_id)
        return aad_error(status, error, code, text, now=self.cloud.scenario.now, trace_id=req.request_id,
                         correlation_id=correlation, **extra)

    def _tenant_of(self, req: Request) -> str | None:
        segment = req.path.strip("/").split("/")[0]
        return segment if segment.lower() in self.tenant_names else None

    def _unknown_tenant(self, req: Request) -> Reply:
        segment = req.path.strip("/").split("/")[0]
        return self._error(req, 400, "invalid_tenant", 90002,
                           f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and "
                           f"are signing into the correct cloud. Check with your subscription administrator, "
                           f"this may happen if there are no active subscriptions for the tenant.")

    def login_root(self, req: Request) -> str:
        return req.base.rstrip("/")

    # ----------------------------------------------------------------- endpoints

    def openid_configuration(self, req: Request) -> Reply:
        tenant = self._tenant_of(req)
        if tenant is None:
            return self._unknown_tenant(req)
        s = self.cloud.scenario
        root = f"{self.login_root(req)}/{tenant}"
        issuer_tenant = "{tenantid}" if tenant.lower() in ("organizations", "common") else s.tenant_id
        body: dict[str, Any] = {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{self.login_root(req)}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.login_root(req)}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.graph_resource}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time",
                                 "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
                                 "c_hash", "email"],
            "kerberos_endpoint": f"{root}/kerberos",
            "tenant_region_scope": s.region_scope,
            "cloud_instance_name": s.cloud.cloud_instance_name,
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(self.graph_resource).hostname,
            "rbac_url": "https://pas.windows.net",
        }
        if s.cloud.tenant_region_sub_scope:
            body["tenant_region_sub_scope"] = s.cloud.tenant_region_sub_scope
        return json_reply(200, body)

    def device_authorization(self, req: Request) -> Reply:
        if self._tenant_of(req) is None:
            return self._unknown_tenant(req)
        form = req.form()
        if not form.get("client_id"):
            return self._error(req, 400, "invalid_request", 900144,
                               "The request body must contain the following parameter: 'client_id'.")
        scope = form.get("scope", "")
        try:
            self.resolve_scopes(scope)
        except ScopeError as exc:
            return self._error(req, 400, exc.error, exc.code, exc.text)
        knobs = self.cloud.scenario.behaviour.device_code
        code = self.cloud.tokens.new_device_code(
            user_code=knobs.user_code, client_id=form["client_id"], scope=scope,
            expires_at=self.cloud.clock() + knobs.expires_in)
        uri = knobs.verification_uri or f"{self.login_root(req)}/devicelogin"
        message = (f"To sign in, use a web browser to open the page {uri} and enter the code "
                   f"{knobs.user_code} to authenticate.")
        return json_reply(200, {"user_code": code.user_code, "device_code": code.code, "verification_uri": uri,
                                "expires_in": knobs.expires_in, "interval": knobs.interval, "message": message})

    def token(self, req: Request) -> Reply:
        if self._tenant_of(req) is None:
            return self._unknown_tenant(req)
        form = req.form()
        grant = form.get("grant_type", "")
        if grant == DEVICE_CODE_GRANT:
            return self._device_code_grant(req, form)
        if grant == "refresh_token":
            return self._refresh_grant(req, form)
        if grant == "authorization_code":
            return self._auth_code_grant(req, form)
        if grant == "client_credentials":
            return self._client_credentials_grant(req, form)
        return self._error(req, 400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")

    def _device_code_grant(self, req: Request, form: dict[str, str]) -> Reply:
        code = self.cloud.tokens.device_codes.get(form.get("device_code", ""))
        if code is None:
            return self._error(req, 400, "bad_verification_code", 70018,
                               "Invalid verification code. The device code is not recognised.")
        if code.redeemed:
            return self._error(req, 400, "invalid_grant", 70000,
                               "The provided value for the 'device_code' is not valid. It was already redeemed.")
        if self.cloud.clock() > code.expires_at:
            return self._error(req, 400, "expired_token", 70019,
                               "Verification code expired. Have the user retry the sign-in.")
        knobs = self.cloud.scenario.behaviour.device_code
        if self.cloud.device_code_held or (self.cloud.device_code_paced and not (code.released or code.approved)):
            return self._error(req, 400, "authorization_pending", 70016,
                               "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        code.polls += 1
        if code.polls <= knobs.slow_down_polls:
            return self._error(req, 400, "slow_down", 70016,
                               "OAuth 2.0 device flow error. Polling too fast; slow down.")
        if code.declined:
            return self._declined(req)
        done_waiting = code.released or code.polls - knobs.slow_down_polls > knobs.after_polls
        if not code.approved and knobs.approval != "on_demand" and done_waiting:
            if knobs.approval == "decline":
                return self._declined(req)
            if knobs.approval == "expire":
                return self._error(req, 400, "expired_token", 70019,
                                   "Verification code expired. Have the user retry the sign-in.")
            if knobs.approval == "ca_block":
                return self._error(req, 400, "invalid_grant", 53003,
                                   "Access has been blocked by Conditional Access policies. The access policy "
                                   "does not allow token issuance.", suberror="message_only")
            code.approved = True
        if not code.approved:
            return self._error(req, 400, "authorization_pending", 70016,
                               "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        try:
            resource, perms = self.resolve_scopes(code.scope)
        except ScopeError as exc:
            return self._error(req, 400, exc.error, exc.code, exc.text)
        missing = self._missing_consent(resource, perms)
        if missing:
            return self._consent_required(req, form.get("client_id", code.client_id), missing)
        code.redeemed = True
        refresh = RefreshGrant(client_id=code.client_id, user_id=self.cloud.scenario.operator.id,
                               issued_at=self.cloud.scenario.now)
        return self._tokens(code.scope, resource, perms, code.client_id, refresh, new_refresh=True)

    def authorize(self, req: Request) -> Reply:
        """The browser sign-in page, already signed in as the operator: redirects straight back to the
        loopback ``redirect_uri`` with a code (PKCE S256 required), or with ``access_denied`` when the
        scenario declines sign-ins."""
        if self._tenant_of(req) is None:
            return self._unknown_tenant(req)
        q = req.query
        redirect = q.get("redirect_uri", "")
        if urlsplit(redirect).scheme != "http" or urlsplit(redirect).hostname not in ("localhost", "127.0.0.1"):
            return self._error(req, 400, "invalid_request", 50011,
                               f"The redirect URI '{redirect}' specified in the request does not match the "
                               f"redirect URIs configured for the application.")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                or not q.get("code_challenge") or not q.get("client_id"):
            return self._error(req, 400, "invalid_request", 900144,
                               "The request must contain client_id, response_type=code and an S256 code_challenge.")
        try:
            self.resolve_scopes(q.get("scope", ""))
        except ScopeError as exc:
            return self._error(req, 400, exc.error, exc.code, exc.text)
        if self.cloud.scenario.behaviour.device_code.approval == "decline":
            params = {"error": "access_denied", "error_description": "AADSTS65004: User declined to consent.",
                      "state": q.get("state", "")}
        else:
            code = "0.DEMO-AUTH." + secrets.token_urlsafe(32)
            self._auth_codes[code] = dict(q)
            self.cloud.tokens.auth_codes.add(code)
            params = {"code": code, "state": q.get("state", "")}
        if q.get("response_mode") == "form_post":  # an auto-submitting form, as Entra sends
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in params.items())
            page = (f'<html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{html.escape(redirect)}">{fields}</form></body></html>')
            return text_reply(200, page, "text/html; charset=utf-8")
        return Reply(302, {"Location": f"{redirect}?{urlencode(params)}"}, b"")

    def _auth_code_grant(self, req: Request, form: dict[str, str]) -> Reply:
        asked = self._auth_codes.pop(form.get("code", ""), None)
        invalid = "The provided authorization code or refresh token has expired or is invalid."
        if asked is None or asked.get("client_id") != form.get("client_id") \
                or asked.get("redirect_uri") != form.get("redirect_uri"):
            return self._error(req, 400, "invalid_grant", 70008, invalid)
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest()) != asked.get("code_challenge"):
            return self._error(req, 400, "invalid_grant", 501481,
                               "The Code_Verifier does not match the code_challenge supplied in the authorization "
                               "request.")
        scope = form.get("scope") or asked.get("scope", "")
        try:
            resource, perms = self.resolve_scopes(scope)
        except ScopeError as exc:
            return self._error(req, 400, exc.error, exc.code, exc.text)
        missing = self._missing_consent(resource, perms)
        if missing:
            return self._consent_required(req, asked["client_id"], missing)
        refresh = RefreshGrant(client_id=asked["client_id"], user_id=self.cloud.scenario.operator.id,
                               issued_at=self.cloud.scenario.now)
        return self._tokens(scope, resource, perms, asked["client_id"], refresh, new_refresh=True,
                            nonce=asked.get("nonce"))

    def _client_credentials_grant(self, req: Request, form: dict[str, str]) -> Reply:
        """An application signing in as itself with a certificate (``private_key_jwt``): the assertion
        is verified against the certificates registered for the app in the scenario; the token carries
        the application permissions consented to it (``roles``), no user and no ``scp``."""
        from dex_tui.demo.assertion import AssertionRefused, verify_assertion

        s = self.cloud.scenario
        client_id = form.get("client_id", "")
        app = next((a for a in s.applications if a.client_id == client_id.lower()), None)
        if app is None:
            return self._error(req, 400, "unauthorized_client", 700016,
                               f"Application with identifier '{client_id[:80]}' was not found in the directory "
                               f"'{s.display_name}'. This can happen if the application has not been installed by "
                               f"the administrator of the tenant or consented to by any user in the tenant. You "
                               f"may have sent your authentication request to the wrong tenant.")
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
            return self._error(req, 401, "invalid_client", 7000218,
                               "The request body must contain the following parameter: 'client_assertion' or "
                               "'client_secret'.")
        try:
            verify_assertion(form["client_assertion"], client_id=app.client_id,
                             token_endpoint=f"{req.base.rstrip('/')}{req.path}", certificates=app.certificates,
                             now=self.cloud.clock())
        except AssertionRefused as refused:
            return self._error(req, refused.status, refused.error, refused.code, refused.text)
        scope = form.get("scope", "").split()
        resources = {"graph": self.graph_resource, "mde": self.mde_resource}
        resource = next((name for name, root in resources.items() if root and scope == [f"{root}/.default"]), None)
        if resource is None:
            return self._error(req, 400, "invalid_scope", 1002012,
                               f"The provided value for scope {' '.join(scope)[:200]} is not valid. Client "
                               f"credential flows must have a scope value with /.default suffixed to the "
                               f"resource identifier (application ID URI).")
        known = GRAPH_APP_PERMISSION_NAMES if resource == "graph" else MDE_APP_PERMISSION_NAMES
        perms = frozenset(p for p in app.permissions if p in known)
        now = int(self.cloud.clock())
        lifetime = s.behaviour.token_lifetime
        audience = resources[resource]
        principal = self.cloud.stable_uuid("service-principal", app.client_id)
        claims = {"aud": audience, "iss": f"https://sts.windows.net/{s.tenant_id}/", "iat": now, "nbf": now,
                  "exp": now + lifetime, "app_displayname": app.display_name, "appid": app.client_id,
                  "appidacr": "2", "idtyp": "app", "oid": principal, "roles": sorted(perms), "sub": principal,
                  "tid": s.tenant_id, "uti": self.cloud.random_token(16), "ver": "1.0"}
        access = self.cloud.tokens.sign(claims)
        self.cloud.tokens.access[access] = AccessGrant(audience=resource, scopes=perms, role_ids=frozenset(),
                                                       expires_at=now + lifetime, user_id="", app_only=True)
        return json_reply(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                                "access_token": access})

    def _declined(self, req: Request) -> Reply:
        return self._error(req, 400, "authorization_declined", 70000,
                           "The end user declined the authorization request.")

    def _refresh_grant(self, req: Request, form: dict[str, str]) -> Reply:
        grant = self.cloud.tokens.refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.client_id != form.get("client_id"):
            return self._error(req, 400, "invalid_grant", 9002313,
                               "Invalid request. Request is malformed or invalid.")
        if grant.revoked:
            return self._error(req, 400, "invalid_grant", 50173,
                               f"The provided grant has expired due to it being revoked, a fresh auth token is "
                               f"needed. The user might have changed or reset their password. The grant was "
                               f"issued on '{grant.issued_at}' and the TokensValidFrom date (before which tokens "
                               f"are not valid) for this user is '{self.cloud.scenario.now}'.",
                               suberror="bad_token")
        scope = form.get("scope", "")
        try:
            resource, perms = self.resolve_scopes(scope)
        except ScopeError as exc:
            return self._error(req, 400, exc.error, exc.code, exc.text)
        missing = self._missing_consent(resource, perms)
        if missing:
            return self._consent_required(req, grant.client_id, missing)
        return self._tokens(scope, resource, perms, grant.client_id, grant, new_refresh=False)

    def _missing_consent(self, resource: str, perms: frozenset[str]) -> list[str]:
        missing = set(self.cloud.scenario.behaviour.missing_consent)
        return sorted(p for p in perms if p in missing)

    def _consent_required(self, req: Request, client_id: str, missing: list[str]) -> Reply:
        return self._error(req, 400, "invalid_grant", 65001,
                           f"The user or administrator has not consented to use the application with ID "
                           f"'{client_id}'. Send an interactive authorization request for this user and "
                           f"resource. Missing permission(s): {', '.join(missing)}.",
                           suberror="consent_required")

    # ----------------------------------------------------------------- scopes and tokens

    def resolve_scopes(self, scope: str) -> tuple[str, frozenset[str]]:
        """The one resource ("graph" or "mde") and the permission names a scope string asks for."""
        resources: dict[str, set[str]] = {}
        for item in scope.split():
            if item in OIDC_SCOPES:
                continue
            if "/" not in item:
                resource, name = "graph", item
            else:
                prefix, _, name = item.rpartition("/")
                if prefix.rstrip("/") in (self.graph_resource, GRAPH_APP_ID):
                    resource = "graph"
                elif self.mde_resource and prefix.rstrip("/") == self.mde_resource:
                    resource = "mde"
                else:
                    s = self.cloud.scenario
                    raise ScopeError("invalid_resource", 500011,
                                     f"The resource principal named {prefix} was not found in the tenant named "
                                     f"{s.display_name}. This can happen if the application has not been "
                                     f"installed by the administrator of the tenant or consented to by any user "
                                     f"in the tenant. You might have sent your authentication request to the "
                                     f"wrong tenant.")
            known = GRAPH_PERMISSION_NAMES if resource == "graph" else MDE_PERMISSION_NAMES
            if name != ".default" and name not in known:
                raise ScopeError("invalid_scope", 70011,
                                 f"The provided value for the input parameter 'scope' is not valid. The scope "
                                 f"{item} is not valid.")
            resources.setdefault(resource, set()).add(name)
        if len(resources) > 1:
            raise ScopeError("invalid_scope", 70011,
                             f"The provided value for the input parameter 'scope' is not valid. One or more "
                             f"scopes in '{scope}' are not compatible with each other.")
        if not resources:
            return "graph", frozenset()
        resource, names = next(iter(resources.items()))
        if ".default" in names:
            names.discard(".default")
            consented = set(GRAPH_SCOPES) if resource == "graph" else {MDE_SCOPE_NAME}
            names |= consented - set(self.cloud.scenario.behaviour.missing_consent)
        return resource, frozenset(names)

    def _tokens(self, scope: str, resource: str, perms: frozenset[str], client_id: str, refresh: RefreshGrant,
                *, new_refresh: bool, nonce: str | None = None) -> Reply:
        cloud, s = self.cloud, self.cloud.scenario
        op = s.operator
        lifetime = s.behaviour.token_lifetime
        now = int(cloud.clock())
        audience = self.graph_resource if resource == "graph" else self.mde_resource
        role_ids = cloud.tenant.operator_role_ids()
        claims = {
            "aud": audience, "iss": f"https://sts.windows.net/{s.tenant_id}/", "iat": now, "nbf": now,
            "exp": now + lifetime, "acr": "1", "amr": ["pwd", "mfa"], "app_displayname": "dex-tui (demo client)",
            "appid": client_id, "appidacr": "0", "family_name": op.surname, "given_name": op.given_name,
            "idtyp": "user", "name": op.display_name, "oid": op.id, "scp": " ".join(sorted(perms)),
            "sub": cloud.stable_uuid("sub", op.id, audience), "tenant_region_scope": s.region_scope,
            "tid": s.tenant_id, "unique_name": op.upn, "upn": op.upn, "preferred_username": op.upn,
            "uti": cloud.random_token(16), "ver": "1.0", "wids": sorted(role_ids),
        }
        access = cloud.tokens.sign(claims)
        cloud.tokens.access[access] = AccessGrant(audience=resource, scopes=perms, role_ids=frozenset(role_ids),
                                                  expires_at=now + lifetime, user_id=op.id)
        prefix = "" if resource == "graph" else f"{self.mde_resource}/"
        granted = [f"{prefix}{p}" for p in sorted(perms)]
        body: dict[str, Any] = {
            "token_type": "Bearer", "scope": " ".join(granted or ["openid", "profile"]),
            "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access,
        }
        requested = set(scope.split())
        if "offline_access" in requested:
            # A refresh grant rotates the refresh token; the old one stays valid, as with Entra.
            grant = refresh if new_refresh else RefreshGrant(refresh.client_id, refresh.user_id, refresh.issued_at)
            body["refresh_token"] = cloud.tokens.new_refresh_token(grant)
        if "openid" in requested:
            id_claims = {"aud": client_id, "iss": f"{self.login_issuer_root()}/{s.tenant_id}/v2.0", "iat": now,
                         "nbf": now, "exp": now + lifetime, "name": op.display_name, "oid": op.id,
                         "preferred_username": op.upn, "sub": cloud.stable_uuid("sub", op.id, client_id),
                         "tid": s.tenant_id, "uti": cloud.random_token(16), "ver": "2.0"}
            if nonce:
                id_claims["nonce"] = nonce
            id_token = cloud.tokens.sign(id_claims)
            cloud.tokens.id_tokens.add(id_token)
            body["id_token"] = id_token
        body["client_info"] = b64url(json.dumps({"uid": op.id, "utid": s.tenant_id}).encode())
        return json_reply(200, body)

    def login_issuer_root(self) -> str:
        return self.cloud.scenario.cloud.login_url.rstrip("/")

    # ----------------------------------------------------------------- the approval page

    def device_login_page(self, req: Request, note: str = "") -> Reply:
        s = self.cloud.scenario
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo sign-in: {html.escape(s.display_name)}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Demo sign-in (dex-tui fake cloud)</h1>
<p>This is the built-in fake tenant <b>{html.escape(s.display_name)}</b> (scenario
<code>{html.escape(s.name)}</code>), not Microsoft. Signing in as
<b>{html.escape(s.operator.display_name)}</b> &lt;{html.escape(s.operator.upn)}&gt;.</p>
<p>{html.escape(note)}</p>
<form method="post">
<label>Code <input name="user_code" autocomplete="off" autofocus></label>
<button name="action" value="approve">Approve</button>
<button name="action" value="decline">Decline</button>
</form></body></html>
"""
        return text_reply(200, page, "text/html; charset=utf-8")

    def device_login_submit(self, req: Request) -> Reply:
        form = req.form()
        typed = form.get("user_code", "").strip().upper()
        pending = [c for c in self.cloud.tokens.device_codes.values()
                   if not c.redeemed and c.user_code == typed and self.cloud.clock() <= c.expires_at]
        if not pending:
            return self.device_login_page(req, "That code is not waiting for approval. Check it and try again.")
        for code in pending:
            if form.get("action") == "decline":
                code.declined = True
            else:
                code.approved = True
        verb = "declined" if form.get("action") == "decline" else "approved"
        return self.device_login_page(req, f"Sign-in {verb}. You can close this page.")
