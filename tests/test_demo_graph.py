"""The fake Graph v1.0: every endpoint's shape, paging, $batch, and scope and role enforcement."""

from __future__ import annotations

import pytest

from dex_tui.demo import FakeCloud, load_scenario, scenario_from_dict
from dex_tui.demo.catalogue import PERMISSIONS, ROLE_TEMPLATES, SERVICE_PLANS
from dex_tui.demo.testing import demo_session, device_code_tokens, signed_in
from dex_tui.scopes import GRAPH_SCOPES

G = "https://graph.demo.test/v1.0"
GA = ROLE_TEMPLATES["Global Administrator"]


def _client(name: str = "ready", scopes=GRAPH_SCOPES, scenario=None):
    cloud = FakeCloud(scenario or load_scenario(name))
    session, graph, _ = signed_in(cloud, scopes)
    headers = {"Authorization": f"Bearer {graph}"}

    def get(path: str, **kwargs):
        extra = kwargs.pop("headers", {})
        return session.get(path if path.startswith("https://") else G + path, headers={**headers, **extra}, **kwargs)

    def post(path: str, payload, **kwargs):
        return session.post(G + path, json=payload, headers=headers, **kwargs)

    return cloud, get, post


def test_organization_shape() -> None:
    cloud, get, _ = _client()
    body = get("/organization").json()
    assert body["@odata.context"].endswith("$metadata#organization")
    (org,) = body["value"]
    assert org["id"] == cloud.scenario.tenant_id and org["displayName"] == "Contoso Ltd"
    assert org["countryLetterCode"] == "US" and org["tenantType"] == "AAD"
    domains = {d["name"]: d for d in org["verifiedDomains"]}
    assert domains["contoso.onmicrosoft.com"]["isInitial"] and domains["contoso.com"]["isDefault"]


def test_organization_with_user_read_only_nulls_the_rest() -> None:
    _, get, _ = _client(scopes=["User.Read"])
    (org,) = get("/organization").json()["value"]
    assert org["displayName"] == "Contoso Ltd" and org["verifiedDomains"]
    assert org["countryLetterCode"] is None and org["tenantType"] is None


def test_me_and_member_of() -> None:
    cloud, get, _ = _client()
    me = get("/me").json()
    assert me["userPrincipalName"] == "admin@contoso.onmicrosoft.com" and me["displayName"] == "Megan Bowen"
    assert "userType" not in me
    member_of = get("/me/memberOf").json()["value"]
    roles = [o for o in member_of if o["@odata.type"] == "#microsoft.graph.directoryRole"]
    assert [r["roleTemplateId"] for r in roles] == [GA]
    assert {"id", "displayName", "description", "roleTemplateId"} <= set(roles[0])
    groups = [o["displayName"] for o in member_of if o["@odata.type"] == "#microsoft.graph.group"]
    assert groups == ["IT Admins"]


def test_member_of_cast_and_filter() -> None:
    _, get, _ = _client()
    roles = get("/me/memberOf/microsoft.graph.directoryRole").json()
    assert roles["@odata.context"].endswith("#directoryRoles")
    assert [r["roleTemplateId"] for r in roles["value"]] == [GA]
    groups = get("/me/transitiveMemberOf/microsoft.graph.group").json()["value"]
    assert [g["displayName"] for g in groups] == ["IT Admins"]
    found = get("/me/memberOf", params={"$filter": f"roleTemplateId eq '{GA}'"}).json()["value"]
    assert len(found) == 1


def test_transitive_member_of_includes_group_assigned_roles() -> None:
    scenario = load_scenario("ready").merged({"operator": {"roles": ["Global Reader"], "groups": ["SOC Analysts"]}})
    _, get, _ = _client(scenario=scenario)
    direct = {o.get("roleTemplateId") for o in get("/me/memberOf").json()["value"]}
    transitive = {o.get("roleTemplateId") for o in get("/me/transitiveMemberOf").json()["value"]}
    assert ROLE_TEMPLATES["Security Reader"] not in direct
    assert ROLE_TEMPLATES["Security Reader"] in transitive


def test_subscribed_skus_shape_and_assumed_experts_sku() -> None:
    cloud, get, _ = _client()
    skus = {s["skuPartNumber"]: s for s in get("/subscribedSkus").json()["value"]}
    e5 = skus["SPE_E5"]
    assert e5["skuId"] == "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
    assert e5["id"] == f"{cloud.scenario.tenant_id}_{e5['skuId']}"
    assert e5["capabilityStatus"] == "Enabled" and e5["appliesTo"] == "User"
    assert e5["prepaidUnits"] == {"enabled": 250, "suspended": 0, "warning": 0, "lockedOut": 0}
    assert e5["consumedUnits"] == 243
    plans = {p["servicePlanName"]: p for p in e5["servicePlans"]}
    assert plans["WINDEFATP"]["servicePlanId"] == SERVICE_PLANS["WINDEFATP"]
    assert plans["AAD_PREMIUM"]["provisioningStatus"] == "Success"
    assert "DEFENDER_EXPERTS_XDR_ASSUMED" in skus
    assert get("/subscribedSkus", params={"$filter": "skuPartNumber eq 'SPE_E5'"}).status_code == 400


def test_users_count_needs_consistency_level_and_is_plain_text() -> None:
    _, get, _ = _client()
    refused = get("/users/$count")
    assert refused.status_code == 400 and "error" in refused.json()
    eventual = {"ConsistencyLevel": "eventual"}
    total = get("/users/$count", headers=eventual)
    assert total.headers["Content-Type"].startswith("text/plain")
    assert total.text == "268"  # 250 members, 6 disabled shared mailboxes, 12 guests
    members = get("/users/$count", headers=eventual, params={"$filter": "userType eq 'Member'"})
    assert members.text == "256"
    enabled = get("/users/$count", headers=eventual,
                  params={"$filter": "accountEnabled eq true and userType eq 'Member'"})
    assert enabled.text == "250"
    refused = get("/users/$count", params={"$filter": "accountEnabled eq true and userType eq 'Member'"})
    assert refused.status_code == 400 and "ConsistencyLevel" in refused.json()["error"]["message"]
    shared = get("/users", params={"$filter": "accountEnabled eq false", "$select": "displayName,accountEnabled"})
    assert [u["accountEnabled"] for u in shared.json()["value"]] == [False] * 6
    assert all("shared mailbox" in u["displayName"] for u in shared.json()["value"])


def test_users_paging_with_full_next_links() -> None:
    _, get, _ = _client()
    seen, url, pages = [], "/users?$top=100&$select=id,userPrincipalName,userType", 0
    while url:
        body = get(url).json()
        pages += 1
        seen += body["value"]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{G}/users?") and "$skiptoken=" in url and "$top=100" in url
    assert pages == 3 and len(seen) == 268
    assert len({u["id"] for u in seen}) == 268
    assert set(seen[0]) == {"id", "userPrincipalName", "userType"}
    assert sum(u["userType"] == "Guest" for u in seen) == 12


def test_cross_tenant_partners_and_tenant_information() -> None:
    cloud, get, _ = _client("ready")
    experts = cloud.scenario.experts.tenant_id
    partners = {p["tenantId"]: p for p in get("/policies/crossTenantAccessPolicy/partners").json()["value"]}
    ours = partners[experts]
    assert ours["isServiceProvider"] is True
    assert ours["inboundTrust"]["isMfaAccepted"] and ours["inboundTrust"]["isCompliantDeviceAccepted"]
    assert "displayName" not in ours
    one = get(f"/policies/crossTenantAccessPolicy/partners/{experts}").json()
    assert one["tenantId"] == experts
    missing = get("/policies/crossTenantAccessPolicy/partners/00000000-0000-0000-0000-000000000001")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    info = get(f"/tenantRelationships/findTenantInformationByTenantId(tenantId='{experts}')").json()
    assert info["displayName"] == "Microsoft Experts" and info["tenantId"] == experts
    assert set(info) >= {"tenantId", "displayName", "defaultDomainName", "federationBrandName"}
    encoded = get(f"/tenantRelationships/findTenantInformationByTenantId(tenantId=%27{experts}%27)")
    assert encoded.status_code == 200


def test_ca_policies_shape() -> None:
    cloud, get, _ = _client("ready")
    policies = get("/identity/conditionalAccess/policies").json()["value"]
    experts = [p for p in policies if p["displayName"].startswith("Microsoft Security Experts-")]
    assert len(experts) == 2 and all(p["displayName"].endswith("-DO NOT DELETE") for p in experts)
    guests = experts[0]["conditions"]["users"]["includeGuestsOrExternalUsers"]
    assert guests["guestOrExternalUserTypes"] == "serviceProvider"
    assert guests["externalTenants"]["membershipKind"] == "enumerated"
    assert guests["externalTenants"]["members"] == [cloud.scenario.experts.tenant_id]
    assert experts[0]["grantControls"]["builtInControls"] == ["mfa", "compliantDevice"]
    assert {p["state"] for p in policies} <= {"enabled", "disabled", "enabledForReportingButNotEnforced"}
    only = get("/identity/conditionalAccess/policies",
               params={"$filter": "startswith(displayName,'Microsoft Security Experts-')"}).json()["value"]
    assert len(only) == 2


def test_fresh_then_portal_makes_it_ready() -> None:
    cloud, get, _ = _client("fresh")

    def visible():
        skus = {s["skuPartNumber"] for s in get("/subscribedSkus").json()["value"]}
        partners = get("/policies/crossTenantAccessPolicy/partners").json()["value"]
        policies = get("/identity/conditionalAccess/policies").json()["value"]
        return ("DEFENDER_EXPERTS_XDR_ASSUMED" in skus, any(p["isServiceProvider"] for p in partners),
                sum(p["displayName"].startswith("Microsoft Security Experts-") for p in policies))

    assert visible() == (False, False, 0)
    assert cloud.portal.place_licence_order("xdr") == "DEFENDER_EXPERTS_XDR_ASSUMED"
    assert visible() == (True, False, 0)
    assert cloud.portal.give_access() == cloud.scenario.experts.tenant_id
    cloud.portal.give_access()  # idempotent
    assert visible() == (True, True, 2)
    with pytest.raises(ValueError):
        cloud.portal.place_licence_order("servers")


def test_role_definitions_and_assignments() -> None:
    cloud, get, _ = _client()
    definitions = get("/roleManagement/directory/roleDefinitions").json()["value"]
    security_admin = next(d for d in definitions if d["displayName"] == "Security Administrator")
    assert security_admin["id"] == security_admin["templateId"] == "194ae4cb-b126-40b2-bd5b-6091b380977d"
    assert security_admin["isBuiltIn"] is True
    filtered = get("/roleManagement/directory/roleAssignments",
                   params={"$filter": f"roleDefinitionId eq '{GA}'", "$expand": "principal"}).json()["value"]
    assert [a["principal"]["userPrincipalName"] for a in filtered] == ["admin@contoso.onmicrosoft.com"]
    assert {"id", "principalId", "roleDefinitionId", "directoryScopeId", "principal"} <= set(filtered[0])
    reader = ROLE_TEMPLATES["Security Reader"]
    group = get("/roleManagement/directory/roleAssignments", params={"$filter": f"roleDefinitionId eq '{reader}'",
                                                                     "$expand": "principal"}).json()["value"]
    assert group[0]["principal"]["@odata.type"] == "#microsoft.graph.group"
    plain = get("/roleManagement/directory/roleAssignments", params={"$filter": f"roleDefinitionId eq '{GA}'"})
    assert "principal" not in plain.json()["value"][0]
    bad = get("/roleManagement/directory/roleAssignments", params={"$filter": "colour eq 'blue'"})
    assert bad.status_code == 400


def test_group_settings() -> None:
    _, get, _ = _client()
    (setting,) = get("/groupSettings").json()["value"]
    assert setting["displayName"] == "Group.Unified"
    values = {v["name"]: v["value"] for v in setting["values"]}
    assert values["EnableGroupCreation"] == "true"
    blocked = load_scenario("ready").merged({"group_settings": {"enable_group_creation": False}})
    _, get, _ = _client(scenario=blocked)
    values = {v["name"]: v["value"] for v in get("/groupSettings").json()["value"][0]["values"]}
    assert values["EnableGroupCreation"] == "false"
    raw = dict(load_scenario("ready").raw)
    del raw["group_settings"]
    _, get, _ = _client(scenario=scenario_from_dict(raw))
    assert get("/groupSettings").json()["value"] == []  # a tenant that never created the setting


def test_hunting_query() -> None:
    _, _, post = _client("passive-av")
    body = post("/security/runHuntingQuery", {"Query": "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId "
                                                       "| summarize count() by OnboardingStatus"}).json()
    assert {"name": "OnboardingStatus", "type": "String"} in body["schema"]
    counts = {r["OnboardingStatus"]: r["count_"] for r in body["results"]}
    assert counts == {"Onboarded": 212, "Can be onboarded": 8}
    rows = post("/security/runHuntingQuery", {"Query": "DeviceInfo | where OSPlatform == \"macOS\" | count"}).json()
    assert rows["results"] == [{"Count": 12}]
    taken = post("/security/runHuntingQuery", {"Query": "DeviceInfo | project DeviceName, OSPlatform | take 3"}).json()
    assert len(taken["results"]) == 3 and set(taken["results"][0]) == {"DeviceName", "OSPlatform"}
    bad = post("/security/runHuntingQuery", {"Query": "EmailEvents | take 1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


# ----------------------------------------------------------------- authentication and permissions


def test_401_without_with_forged_and_wrong_audience_tokens() -> None:
    cloud = FakeCloud(load_scenario("ready"))
    session, _, mde = signed_in(cloud)
    no_token = session.get(f"{G}/me")
    assert no_token.status_code == 401
    error = no_token.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and {"date", "request-id"} <= set(error["innerError"])
    forged = session.get(f"{G}/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    wrong_audience = session.get(f"{G}/me", headers={"Authorization": f"Bearer {mde}"})
    assert wrong_audience.status_code == 401 and "audience" in wrong_audience.json()["error"]["message"]


@pytest.mark.parametrize(("path", "needs"), [
    ("/subscribedSkus", "LicenseAssignment.Read.All"),
    ("/policies/crossTenantAccessPolicy/partners", "Policy.Read.All"),
    ("/identity/conditionalAccess/policies", "Policy.Read.All"),
    ("/roleManagement/directory/roleDefinitions", "RoleManagement.Read.Directory"),
    ("/groupSettings", "GroupSettings.Read.All"),
    ("/users?$top=1", "User.ReadBasic.All"),
])
def test_403_when_the_token_lacks_the_permission(path: str, needs: str) -> None:
    endpoint = next(k for k, p in PERMISSIONS.items() if p.least == needs and k.startswith("graph."))
    _, get, _ = _client(scopes=[s for s in GRAPH_SCOPES if s not in PERMISSIONS[endpoint].accepted])
    denied = get(path)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    _, get, _ = _client(scopes=["User.Read", needs])
    assert get(path).status_code == 200


def test_a_higher_permission_satisfies_the_least_privileged_one() -> None:
    _, get, _ = _client(scopes=["User.Read", "Directory.Read.All"])
    assert get("/subscribedSkus").status_code == 200
    assert get("/users/$count", headers={"ConsistencyLevel": "eventual"}).status_code == 200


def test_403_when_the_operator_lacks_the_role() -> None:
    nobody = load_scenario("ready").merged({"operator": {"roles": [], "groups": []}})
    _, get, post = _client(scenario=nobody)
    assert get("/identity/conditionalAccess/policies").status_code == 403
    assert get("/policies/crossTenantAccessPolicy/partners").status_code == 403
    assert post("/security/runHuntingQuery", {"Query": "DeviceInfo | count"}).status_code == 403
    assert get("/me/memberOf").status_code == 200  # User.Read: no role needed
    _, get, _ = _client("not-admin")  # Global Reader reads everything
    assert get("/identity/conditionalAccess/policies").status_code == 200


# ----------------------------------------------------------------- $batch


def test_batch_shape_order_and_limits() -> None:
    cloud, _, post = _client()
    requests_ = [{"id": str(i), "method": "GET", "url": url} for i, url in enumerate(
        ["/me", "/organization", "/subscribedSkus", "/groupSettings", "users/$count",
         "/policies/crossTenantAccessPolicy/partners"], start=1)]
    requests_[4]["headers"] = {"ConsistencyLevel": "eventual"}
    first = post("/$batch", {"requests": requests_})
    assert first.status_code == 200
    responses = first.json()["responses"]
    assert sorted(r["id"] for r in responses) == ["1", "2", "3", "4", "5", "6"]
    assert [r["id"] for r in responses] != ["1", "2", "3", "4", "5", "6"]  # out of order, like Graph
    again = post("/$batch", {"requests": requests_}).json()["responses"]
    assert [r["id"] for r in again] == [r["id"] for r in responses]  # deterministic
    by_id = {r["id"]: r for r in responses}
    assert all(r["status"] == 200 for r in responses)
    assert by_id["1"]["body"]["userPrincipalName"] == "admin@contoso.onmicrosoft.com"
    assert by_id["5"]["body"] == "268" and by_id["5"]["headers"]["Content-Type"].startswith("text/plain")
    too_many = post("/$batch", {"requests": [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]})
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "BadRequest"


def test_batch_inner_throttle_with_retry_after_and_failed_dependency() -> None:
    scenario = load_scenario("ready").with_faults({"endpoint": "graph.subscribedSkus", "kind": "throttle",
                                                   "count": 1, "retry_after": 7})
    _, _, post = _client(scenario=scenario)
    batch = {"requests": [{"id": "skus", "method": "GET", "url": "/subscribedSkus"},
                          {"id": "after", "method": "GET", "url": "/me", "dependsOn": ["skus"]},
                          {"id": "me", "method": "GET", "url": "/me"}]}
    outer = post("/$batch", batch)
    assert outer.status_code == 200
    by_id = {r["id"]: r for r in outer.json()["responses"]}
    assert by_id["skus"]["status"] == 429 and by_id["skus"]["headers"]["Retry-After"] == "7"
    assert by_id["skus"]["body"]["error"]["code"] == "TooManyRequests"
    assert by_id["after"]["status"] == 424
    assert by_id["me"]["status"] == 200
    retried = {r["id"]: r for r in post("/$batch", batch).json()["responses"]}
    assert retried["skus"]["status"] == 200 and retried["after"]["status"] == 200


def test_batch_inner_requests_are_permission_checked() -> None:
    _, _, post = _client(scopes=["User.Read"])
    responses = post("/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/subscribedSkus"},
                                              {"id": "2", "method": "GET", "url": "/me"}]}).json()["responses"]
    by_id = {r["id"]: r for r in responses}
    assert by_id["1"]["status"] == 403 and by_id["2"]["status"] == 200


def test_unknown_segment_is_a_graph_error() -> None:
    _, get, _ = _client()
    response = get("/nothingHere")
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"


def test_large_user_count_is_cheap() -> None:
    cloud = FakeCloud(load_scenario("large"))
    session = demo_session(cloud)
    token = device_code_tokens(session, cloud)["access_token"]
    headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
    import time

    started = time.perf_counter()
    total = session.get(f"{G}/users/$count", headers=headers).text
    members = session.get(f"{G}/users/$count", headers=headers, params={"$filter": "userType eq 'Member'"}).text
    enabled = session.get(f"{G}/users/$count", headers=headers,
                          params={"$filter": "accountEnabled eq true and userType eq 'Member'"}).text
    page = session.get(f"{G}/users", headers=headers, params={"$top": "999"}).json()
    assert time.perf_counter() - started < 0.5
    assert (total, members, enabled) == ("200000", "195000", "193800")
    assert len(page["value"]) == 999 and "@odata.nextLink" in page
