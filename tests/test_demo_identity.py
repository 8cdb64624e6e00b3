"""The fake identity platform with the real MSAL (in-process transport) and on the wire."""

from __future__ import annotations

import threading
import time

import msal
import pytest

from dex_tui.demo import FakeCloud, decode_claims, load_scenario
from dex_tui.demo.catalogue import ROLE_TEMPLATES
from dex_tui.demo.testing import DEVICE_CODE_GRANT, demo_session, device_code_tokens, refresh_tokens
from dex_tui.demo.tokens import b64url_decode
from dex_tui.scopes import GRAPH_SCOPES, mde_scopes
from dex_tui.settings import DEFAULT_CLIENT_ID, DEMO_LOGIN_URL

MDE_RESOURCE = "https://api.securitycenter.microsoft.com"
ERROR_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}


def _app(session, tenant: str = "organizations") -> msal.PublicClientApplication:
    # A new PCA per test: MSAL caches error replies per app object (reference/tech.md §1.8).
    return msal.PublicClientApplication(DEFAULT_CLIENT_ID, authority=f"{DEMO_LOGIN_URL}/{tenant}",
                                        http_client=session, instance_discovery=False)


def _cloud(name: str = "ready", **knobs) -> FakeCloud:
    scenario = load_scenario(name)
    return FakeCloud(scenario.with_knobs(**knobs) if knobs else scenario)


def test_msal_device_flow_then_silent_mde_token() -> None:
    cloud = _cloud()
    app = _app(demo_session(cloud))
    flow = app.initiate_device_flow(scopes=list(GRAPH_SCOPES))
    assert flow["user_code"] == "DEMO-4821"
    assert flow["verification_uri"] == f"{DEMO_LOGIN_URL}/devicelogin"
    assert "DEMO-4821" in flow["message"] and flow["interval"] >= 1 and flow["expires_in"] == 900
    started = time.monotonic()
    result = app.acquire_token_by_device_flow(flow)
    assert time.monotonic() - started < 1, "approved on the first poll: no MSAL sleep"
    assert "access_token" in result, result
    assert set(result["scope"].split()) == set(GRAPH_SCOPES)
    claims = decode_claims(result["access_token"])
    operator = cloud.scenario.operator
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == cloud.scenario.tenant_id and claims["oid"] == operator.id
    assert claims["upn"] == claims["preferred_username"] == "admin@contoso.onmicrosoft.com"
    assert set(claims["scp"].split()) == set(GRAPH_SCOPES)
    assert claims["wids"] == [ROLE_TEMPLATES["Global Administrator"]]
    assert claims["exp"] > time.time()
    assert result["id_token_claims"]["preferred_username"] == operator.upn
    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == [operator.upn]
    assert accounts[0]["home_account_id"] == f"{operator.id}.{cloud.scenario.tenant_id}"  # from client_info

    cached = app.acquire_token_silent(list(GRAPH_SCOPES), account=accounts[0])
    assert cached["token_source"] == "cache"
    mde = app.acquire_token_silent(mde_scopes(MDE_RESOURCE), account=accounts[0])
    assert mde["token_source"] == "identity_provider"
    assert decode_claims(mde["access_token"])["aud"] == MDE_RESOURCE
    assert decode_claims(mde["access_token"])["scp"] == "Machine.Read"
    assert mde["scope"] == f"{MDE_RESOURCE}/Machine.Read"
    secrets = cloud.issued_secrets()
    assert {result["access_token"], result["refresh_token"], result["id_token"], flow["device_code"],
            mde["access_token"]} <= secrets


def test_on_demand_approval_from_another_thread() -> None:
    cloud = _cloud(device_code={"approval": "on_demand"})
    app = _app(demo_session(cloud))
    flow = app.initiate_device_flow(scopes=["User.Read"])
    timer = threading.Timer(0.2, cloud.approve_device_code)
    timer.start()
    result = app.acquire_token_by_device_flow(flow)
    timer.join()
    assert "access_token" in result
    token_posts = [entry for entry in cloud.request_log if entry[2].endswith("/oauth2/v2.0/token")]
    assert len(token_posts) == 2  # one pending poll, then success


@pytest.mark.parametrize(("approval", "error", "code"), [
    ("decline", "authorization_declined", 70000),
    ("expire", "expired_token", 70019),
    ("ca_block", "invalid_grant", 53003),
])
def test_failing_approval_modes(approval: str, error: str, code: int) -> None:
    cloud = _cloud(device_code={"approval": approval})
    app = _app(demo_session(cloud))
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=["User.Read"]))
    assert result["error"] == error
    assert result["error_codes"] == [code]
    assert result["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID:" in result["error_description"]


def test_ca_blocks_device_code_scenario() -> None:
    cloud = _cloud("ca-blocks-device-code")
    app = _app(demo_session(cloud))
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=["User.Read"]))
    assert result["error"] == "invalid_grant" and 53003 in result["error_codes"]


def test_wire_errors_have_the_documented_shape() -> None:
    cloud = _cloud(device_code={"approval": "on_demand"})
    session = demo_session(cloud)
    root = f"{DEMO_LOGIN_URL}/{cloud.scenario.tenant_id}/oauth2/v2.0"
    code = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Read"}).json()
    assert set(code) == {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    pending = session.post(f"{root}/token", data={"grant_type": DEVICE_CODE_GRANT, "client_id": DEFAULT_CLIENT_ID,
                                                  "device_code": code["device_code"]},
                           headers={"client-request-id": "11111111-2222-3333-4444-555555555555"})
    assert pending.status_code == 400
    body = pending.json()
    assert ERROR_KEYS <= set(body)
    assert body["error"] == "authorization_pending" and body["error_codes"] == [70016]
    assert all(isinstance(c, int) for c in body["error_codes"])
    assert body["correlation_id"] == "11111111-2222-3333-4444-555555555555"
    assert body["timestamp"] == "2025-06-02 09:00:00Z"  # the scenario's fixed clock
    bad = session.post(f"{root}/token", data={"grant_type": DEVICE_CODE_GRANT, "client_id": DEFAULT_CLIENT_ID,
                                              "device_code": "forged"}).json()
    assert bad["error"] == "bad_verification_code"


def test_slow_down_then_success_on_the_wire() -> None:
    cloud = _cloud(device_code={"slow_down_polls": 1})
    session = demo_session(cloud)
    root = f"{DEMO_LOGIN_URL}/organizations/oauth2/v2.0"
    code = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Read"}).json()
    form = {"grant_type": DEVICE_CODE_GRANT, "client_id": DEFAULT_CLIENT_ID, "device_code": code["device_code"]}
    assert session.post(f"{root}/token", data=form).json()["error"] == "slow_down"
    assert "access_token" in session.post(f"{root}/token", data=form).json()
    reused = session.post(f"{root}/token", data=form).json()
    assert reused["error"] == "invalid_grant"


def test_device_code_expires_by_the_clock() -> None:
    now = [1_000_000.0]
    cloud = FakeCloud(load_scenario("ready").with_knobs(device_code={"approval": "on_demand"}), clock=lambda: now[0])
    session = demo_session(cloud)
    root = f"{DEMO_LOGIN_URL}/organizations/oauth2/v2.0"
    code = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Read"}).json()
    now[0] += 901
    form = {"grant_type": DEVICE_CODE_GRANT, "client_id": DEFAULT_CLIENT_ID, "device_code": code["device_code"]}
    assert session.post(f"{root}/token", data=form).json()["error"] == "expired_token"


def test_mixing_resources_is_invalid_scope_70011() -> None:
    cloud = _cloud()
    app = _app(demo_session(cloud))
    flow = app.initiate_device_flow(scopes=["User.Read", f"{MDE_RESOURCE}/Machine.Read"])
    assert "user_code" not in flow
    assert flow["error"] == "invalid_scope" and flow["error_codes"] == [70011]


def test_unknown_resource_and_unknown_permission() -> None:
    session = demo_session(_cloud())
    root = f"{DEMO_LOGIN_URL}/organizations/oauth2/v2.0"
    other = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID,
                                                     "scope": "https://example.contoso.com/activity.read"}).json()
    assert other["error"] == "invalid_resource" and other["error_codes"] == [500011]
    typo = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Reed"}).json()
    assert typo["error"] == "invalid_scope"


def test_gcc_high_uses_its_own_resources() -> None:
    cloud = _cloud("gcc-high")
    session = demo_session(cloud)
    tokens = device_code_tokens(session, cloud, ["https://graph.microsoft.us/User.Read"])
    assert decode_claims(tokens["access_token"])["aud"] == "https://graph.microsoft.us"
    commercial = device_code_tokens(session, cloud, [f"{MDE_RESOURCE}/Machine.Read"])
    assert commercial["error"] == "invalid_resource"
    mde = refresh_tokens(session, cloud, tokens["refresh_token"],
                         ["https://api-gov.securitycenter.microsoft.us/Machine.Read"])
    assert decode_claims(mde["access_token"])["aud"] == "https://api-gov.securitycenter.microsoft.us"


def test_refresh_token_revoked_then_msal_needs_a_new_sign_in() -> None:
    cloud = _cloud()
    app = _app(demo_session(cloud))
    app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=["User.Read"]))
    account = app.get_accounts()[0]
    cloud.revoke_refresh_tokens()
    result = app.acquire_token_silent_with_error(["User.Read"], account=account, force_refresh=True)
    assert result["error"] == "invalid_grant"
    assert 50173 in result["error_codes"]


def test_refresh_after_expiry_gives_a_working_token() -> None:
    cloud = _cloud()
    session = demo_session(cloud)
    tokens = device_code_tokens(session, cloud, ["User.Read"])
    assert session.get("https://graph.demo.test/v1.0/me",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
    cloud.expire_access_tokens()
    expired = session.get("https://graph.demo.test/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    fresh = refresh_tokens(session, cloud, tokens["refresh_token"], ["User.Read"])
    assert session.get("https://graph.demo.test/v1.0/me",
                       headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200


def test_missing_consent_is_consent_required() -> None:
    cloud = _cloud(missing_consent=["ThreatHunting.Read.All"])
    session = demo_session(cloud)
    result = device_code_tokens(session, cloud, ["User.Read", "ThreatHunting.Read.All"])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [65001]
    assert "ThreatHunting.Read.All" in result["error_description"]
    assert "access_token" in device_code_tokens(session, cloud, ["User.Read"])


def test_default_scope_grants_the_consented_set() -> None:
    cloud = _cloud(missing_consent=["ThreatHunting.Read.All"])
    tokens = device_code_tokens(demo_session(cloud), cloud, ["https://graph.microsoft.com/.default"])
    granted = set(decode_claims(tokens["access_token"])["scp"].split())
    assert granted == set(GRAPH_SCOPES) - {"ThreatHunting.Read.All"}


def test_client_info_and_token_response_fields() -> None:
    cloud = _cloud()
    tokens = device_code_tokens(demo_session(cloud), cloud, ["User.Read"])
    assert {"token_type", "scope", "expires_in", "access_token", "refresh_token", "id_token", "client_info"} <= set(tokens)
    import json

    info = json.loads(b64url_decode(tokens["client_info"]))
    assert info == {"uid": cloud.scenario.operator.id, "utid": cloud.scenario.tenant_id}
    assert tokens["expires_in"] == 3600
    header = json.loads(b64url_decode(tokens["access_token"].split(".")[0]))
    assert header["typ"] == "JWT"


@pytest.mark.parametrize(("name", "instance", "sub_scope", "region", "graph_host"), [
    ("ready", "microsoftonline.com", None, "NA", "graph.microsoft.com"),
    ("gcc", "microsoftonline.com", "GCC", "NA", "graph.microsoft.com"),
    ("gcc-high", "microsoftonline.us", "DODCON", "USGov", "graph.microsoft.us"),
])
def test_openid_configuration(name: str, instance: str, sub_scope: str | None, region: str, graph_host: str) -> None:
    cloud = _cloud(name)
    session = demo_session(cloud)
    domain = cloud.scenario.initial_domain
    body = session.get(f"{DEMO_LOGIN_URL}/{domain}/v2.0/.well-known/openid-configuration").json()
    assert body["issuer"] == f"{DEMO_LOGIN_URL}/{cloud.scenario.tenant_id}/v2.0"
    assert body["token_endpoint"] == f"{DEMO_LOGIN_URL}/{domain}/oauth2/v2.0/token"
    assert body["device_authorization_endpoint"] == f"{DEMO_LOGIN_URL}/{domain}/oauth2/v2.0/devicecode"
    assert body["authorization_endpoint"] == f"{DEMO_LOGIN_URL}/{domain}/oauth2/v2.0/authorize"
    assert body["cloud_instance_name"] == instance
    assert body.get("tenant_region_sub_scope") == sub_scope
    assert body["tenant_region_scope"] == region
    assert body["msgraph_host"] == graph_host
    unknown = session.get(f"{DEMO_LOGIN_URL}/fabrikam.com/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


def test_not_admin_token_carries_only_global_reader() -> None:
    cloud = _cloud("not-admin")
    tokens = device_code_tokens(demo_session(cloud), cloud, ["User.Read"])
    assert decode_claims(tokens["access_token"])["wids"] == [ROLE_TEMPLATES["Global Reader"]]


def test_group_assigned_roles_reach_wids() -> None:
    scenario = load_scenario("ready").merged({"operator": {"roles": [], "groups": ["SOC Analysts"]}})
    cloud = FakeCloud(scenario)
    tokens = device_code_tokens(demo_session(cloud), cloud, ["User.Read"])
    assert decode_claims(tokens["access_token"])["wids"] == [ROLE_TEMPLATES["Security Reader"]]


@pytest.mark.parametrize(("scenario", "answer"), [("ready", "access_token"), ("ca-blocks-device-code", "invalid_grant"),
                                                  ("fresh", "access_token")])
def test_a_paced_code_waits_for_the_operator_then_gets_the_scenarios_answer(scenario: str, answer: str) -> None:
    """The interactive wizard's demo (issue 20 item 3): pending until "a", none while a dialog is open."""
    from dex_tui.demo_controls import DemoControls

    controls = DemoControls.for_scenario(scenario, interactive=True)
    assert controls.waits_for_operator
    cloud = controls.cloud
    session = demo_session(cloud)
    root = f"{DEMO_LOGIN_URL}/organizations/oauth2/v2.0"
    code = session.post(f"{root}/devicecode", data={"client_id": DEFAULT_CLIENT_ID, "scope": "User.Read"}).json()
    form = {"grant_type": DEVICE_CODE_GRANT, "client_id": DEFAULT_CLIENT_ID, "device_code": code["device_code"]}
    for _ in range(20):  # far beyond the scenario's own wait
        assert session.post(f"{root}/token", data=form).json()["error"] == "authorization_pending"
    controls.hold_device_code(True)  # a dialog opens over the sign-in
    controls.approve_device_code()
    assert session.post(f"{root}/token", data=form).json()["error"] == "authorization_pending"
    controls.hold_device_code(False)
    reply = session.post(f"{root}/token", data=form).json()
    assert answer in (reply.get("error"), *reply), reply


def test_auto_approval_keeps_its_short_wait_and_an_explicit_mode_wins() -> None:
    from dex_tui.demo_controls import DEMO_APPROVAL_POLLS, DemoControls

    auto = DemoControls.for_scenario("ready", interactive=True, approval="auto")
    assert not auto.waits_for_operator and auto.cloud.scenario.behaviour.device_code.after_polls == DEMO_APPROVAL_POLLS
    on_demand = DemoControls.for_scenario("ca-blocks-device-code", interactive=True, approval="on_demand")
    assert on_demand.cloud.scenario.behaviour.device_code.approval == "on_demand"
    assert not DemoControls.for_scenario("ready").waits_for_operator  # tests and headless runs: as the scenario says
