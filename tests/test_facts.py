"""Gathering the tenant facts: each read's shape, concurrency, dependencies, failures and cancellation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from graph_fakes import Seen, make_client

from dex_tui import mde_paging
from dex_tui.errors import Interrupted
from dex_tui.facts import MDE_PAGE_SIZE, READS, CloudInfo, gather, with_dependencies

EXPERTS = "e7a9c1d3-5b2f-4e6a-8c0d-1f3b5d7e9a2c"
OTHER = "3d2b8f6a-1c4e-4b7d-8a9f-5e6c7d8b9a01"
CLOUD = CloudInfo("commercial")


def _err(status: int, code: str = "Authorization_RequestDenied", message: str = "Insufficient privileges"):
    return status, {}, {"error": {"code": code, "message": message}}


ROUTES: dict[str, Any] = {
    "/v1.0/organization": {"value": [{"id": "tid", "displayName": "Contoso", "countryLetterCode": "de",
                                      "tenantType": "AAD", "verifiedDomains": [
                                          {"name": "contoso.onmicrosoft.com", "isInitial": True, "isDefault": False},
                                          {"name": "contoso.com", "isDefault": True}]}]},
    "/v1.0/me": {"id": "oid", "displayName": "Megan", "userPrincipalName": "megan@contoso.com"},
    "/v1.0/me/transitiveMemberOf": {"value": [
        {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "IT"},
        {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "Global Administrator",
         "roleTemplateId": "62E90394-69F5-4237-9190-012177145E10"}]},
    "/v1.0/subscribedSkus": {"value": [{
        "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "skuPartNumber": "SPE_E5", "capabilityStatus": "Enabled",
        "consumedUnits": 10, "prepaidUnits": {"enabled": 25, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": [{"servicePlanId": "871D91EC-EC1A-452B-A83F-BD76C7D770EF", "servicePlanName": "WINDEFATP",
                          "provisioningStatus": "Success", "appliesTo": "User"}]}]},
    "/v1.0/users/$count": (200, {"Content-Type": "text/plain"}, "25"),
    "/v1.0/policies/crossTenantAccessPolicy/partners": {"value": [
        {"tenantId": EXPERTS, "isServiceProvider": True,
         "inboundTrust": {"isMfaAccepted": True, "isCompliantDeviceAccepted": True}},
        {"tenantId": OTHER, "isServiceProvider": False, "inboundTrust": None},
        {"tenantId": "not-a-guid", "isServiceProvider": True}]},
    "/v1.0/identity/conditionalAccess/policies": {"value": [
        {"id": "p1", "displayName": "Microsoft Security Experts-Require MFA-DO NOT DELETE", "state": "enabled",
         "grantControls": {"builtInControls": ["mfa"]}},
        {"id": "p2", "displayName": "Block legacy", "state": "enabled", "grantControls": None}]},
    # Today's flows (dex_tui/mdr_reads.py), shaped as in Graph's documented examples.
    "/v1.0/me/licenseDetails": {"value": [{
        "id": "lic1", "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "skuPartNumber": "SPE_E5",
        "servicePlans": [{"servicePlanId": "57FF2DA0-773E-42DF-B2AF-FFB7A2317929", "servicePlanName": "TEAMS1",
                          "provisioningStatus": "Success", "appliesTo": "User"}]}]},
    "/v1.0/groupSettings": {"value": [{"id": "s1", "displayName": "Group.Unified",
                                       "templateId": "62375ab9-6b52-47ed-826b-58e47e0e304b",
                                       "values": [{"name": "EnableGroupCreation", "value": "false"},
                                                  {"name": "GroupCreationAllowedGroupId", "value": "G1"}]}]},
    "/v1.0/me/transitiveMemberOf/microsoft.graph.group": {"value": [{"id": "g1"}]},
    "/v1.0/security/identities/healthIssues": {"value": [{
        "@odata.type": "#microsoft.graph.security.healthIssue", "id": "h1", "createdDateTime": "2022-07-15T12:19:27Z",
        "displayName": "Directory Services Object Auditing is not configured as required",
        "healthIssueType": "Global", "severity": "medium", "status": "open"}]},
    "/v1.0/security/incidents": {"value": [
        {"@odata.type": "#microsoft.graph.security.incident", "id": "2972395", "status": "active",
         "displayName": "Defender Experts: Test Notification from Microsoft Defender Experts",
         "createdDateTime": "2025-06-02T09:00:00Z", "severity": "informational"},
        {"@odata.type": "#microsoft.graph.security.incident", "id": "2972394", "status": "active",
         "displayName": "Multi-stage incident", "createdDateTime": "2021-08-13T08:43:35Z", "severity": "medium"}]},
}


def _batch(seen: Seen):
    responses = []
    for request in seen.body["requests"]:
        if request["url"].startswith("/groups?"):  # today's group lookups by exact name
            found = [{"id": "x1", "displayName": "VIP", "securityEnabled": True, "onPremisesSyncEnabled": True,
                      "groupTypes": []}] if "'VIP'" in request["url"] else []
            responses.append({"id": request["id"], "status": 200, "headers": {}, "body": {"value": found}})
            continue
        tid = request["url"].split("'")[1]
        if tid == EXPERTS:
            body = {"tenantId": tid, "displayName": "Microsoft Experts", "defaultDomainName": "x.onmicrosoft.com"}
            responses.append({"id": request["id"], "status": 200, "headers": {}, "body": body})
        else:
            responses.append({"id": request["id"], "status": 404, "headers": {},
                              "body": {"error": {"code": "Request_ResourceNotFound", "message": "no tenant"}}})
    return 200, {}, {"responses": responses}


def _mde(seen: Seen, devices: int = 25_000, av_modes: tuple[str, ...] = ("0", "1", "0", "4")):
    skip = int(seen.query.get("$skip", ["0"])[0])
    top = int(seen.query["$top"][0])
    count = min(top, max(0, devices - skip))
    if seen.path == "/api/machines" and "$filter" not in seen.query:  # today's device groups (rbacGroupName)
        items = [{"id": str(i), "rbacGroupName": "Servers" if i % 10 == 0 else "Workstations"}
                 for i in range(skip, skip + count)]
    elif seen.path == "/api/machines":
        assert seen.query["$filter"] == ["onboardingStatus eq 'Onboarded'"]
        items = [{"id": str(i), "onboardingStatus": "Onboarded", "healthStatus": "Active" if i % 5 else "Inactive"}
                 for i in range(skip, skip + count)]
    elif seen.query.get("$filter") == ["avMode ne '0'"]:  # only the devices not in active mode
        rows = [i for i in range(devices) if av_modes[i % len(av_modes)] != "0"]
        items = [{"machineId": str(i), "avMode": av_modes[i % len(av_modes)]} for i in rows[skip:skip + top]]
        count, devices = len(items), len(rows)
    else:
        items = [{"machineId": str(i), "avMode": av_modes[i % len(av_modes)]} for i in range(skip, skip + count)]
    body: dict[str, Any] = {"value": items}
    if skip + top < devices:
        keep = f"$filter={seen.query['$filter'][0]}&" if "$filter" in seen.query else ""
        body["@odata.nextLink"] = f"https://mde.unit.test{seen.path}?{keep}$top={top}&$skip={skip + top}"
    return 200, {}, body


def tenant(overrides: dict[str, Any] | None = None, **mde: Any):
    routes = {**ROUTES, **(overrides or {})}

    def handler(seen: Seen):
        if seen.path == "/v1.0/$batch":
            return routes.get("batch", _batch)(seen)
        if seen.path.startswith("/api/"):
            override = routes.get(seen.path)
            return override(seen) if callable(override) else (override or _mde(seen, **mde))
        reply = routes.get(seen.path, _err(404, "Request_ResourceNotFound", "no such thing"))
        reply = reply(seen) if callable(reply) else reply
        return reply if isinstance(reply, tuple) else (200, {}, reply)

    return handler


def test_every_read_parses_its_documented_shape() -> None:
    client, adapter, _ = make_client(tenant())
    facts = gather(client, CLOUD)
    assert all(r.ok for r in facts.reads.values()), [r.error for r in facts.reads.values() if not r.ok]
    org = facts.value("organization")
    assert (org.id, org.country_letter_code, org.default_domain) == ("tid", "DE", "contoso.com")
    assert facts.value("me").user_principal_name == "megan@contoso.com"
    roles = facts.value("member_of")
    assert [r.template_id for r in roles.roles] == ["62e90394-69f5-4237-9190-012177145e10"] and roles.transitive
    (sku,) = facts.value("subscribed_skus")
    assert sku.enabled_units == 25 and sku.plans[0].id == "871d91ec-ec1a-452b-a83f-bd76c7d770ef" and sku.usable
    assert facts.value("user_count").count == 25 and facts.value("user_count").members_only
    partners = facts.value("partners")
    assert partners[0].is_service_provider and partners[1].mfa_accepted is None
    names = facts.value("tenant_information")
    assert names.names[EXPERTS].display_name == "Microsoft Experts"
    assert "Request_ResourceNotFound" in names.failures[OTHER] and names.failures["not-a-guid"] == "not a tenant ID"
    ca = facts.value("ca_policies")
    assert ca.total == 2 and [p.id for p in ca.experts] == ["p1"] and ca.experts[0].grant_controls == ("mfa",)
    machines = facts.value("machines")
    assert machines.onboarded == 25_000 and machines.by_health == {"Active": 20_000, "Inactive": 5_000}
    av = facts.value("av_info")
    assert av.total == 25_000 and av.by_mode == {"active": 12_500, "passive": 6_250, "edr_blocked": 6_250}
    assert dict(facts.value("device_groups").by_name) == {"Servers": 2_500, "Workstations": 22_500}
    groups = facts.value("mdr_groups")
    assert groups.groups("Defender experts team") is None and groups.groups("Defender Experts team") == ()
    (plan,) = facts.value("license_details")
    assert (plan.sku, plan.plan_id, plan.status) == ("SPE_E5", "57ff2da0-773e-42df-b2af-ffb7a2317929", "Success")
    creation = facts.value("group_settings")
    assert (creation.enabled, creation.allowed_group_id, creation.operator_in_allowed_group) == (False, "g1", True)
    assert creation.operator_may_create is True
    health = facts.value("identity_health")
    assert health.total_open == 1 and dict(health.open_by_severity) == {"medium": 1}
    incidents = facts.value("incidents")
    assert incidents.complete and incidents.scanned == 2 and [m["id"] for m in incidents.matches] == ["2972395"]


def test_requests_do_not_grow_with_users_and_page_devices_at_the_documented_maximum() -> None:
    client, adapter, _ = make_client(tenant(devices=95_000))
    facts = gather(client, CLOUD)
    by_path: dict[str, int] = {}
    for seen in adapter.seen:
        by_path[seen.path] = by_path.get(seen.path, 0) + 1
    # This tenant has no advanced hunting (404): the device reads page, a few pages in flight at once,
    # so at most WINDOW - 1 requests past the last page (tests/test_device_counts.py has the hunting way).
    pages = -(-95_000 // MDE_PAGE_SIZE)
    past_the_end = mde_paging.WINDOW - 1
    assert 2 * pages <= by_path["/api/machines"] <= 2 * (pages + past_the_end)  # + device groups
    # The antivirus read lists the devices not in active mode while asking hunting, then, refused, pages all.
    listed = -(-sum(1 for i in range(95_000) if i % 2) // MDE_PAGE_SIZE)  # avMode 1 and 4: every odd device
    assert pages + listed <= by_path["/api/deviceavinfo"] <= pages + listed + 2 * past_the_end
    assert all(seen.query.get("$top") == [str(MDE_PAGE_SIZE)] for seen in adapter.seen if seen.path.startswith("/api"))
    assert by_path["/v1.0/users/$count"] == 1
    assert by_path["/v1.0/security/runHuntingQuery"] == 3  # tried once by each device read, then paged
    # 7 seed Graph reads + one $batch, today's 5 Graph requests (licence details, group settings and the
    # operator's groups, health issues, incidents) + one $batch of group lookups, and the device pages.
    assert sum(by_path.values()) == 8 + 6 + 3 + by_path["/api/machines"] + by_path["/api/deviceavinfo"]
    assert facts.requests == len(adapter.seen) == client.requests_made
    assert pages + 1 <= facts.reads["machines"].requests <= pages + 1 + past_the_end


def test_reads_run_concurrently() -> None:
    slow = 0.15

    def handler(seen: Seen):
        time.sleep(slow)
        return tenant(devices=10)(seen)

    client, _, _ = make_client(handler)
    start = time.monotonic()
    gather(client, CLOUD)
    elapsed = time.monotonic() - start
    # Critical path: partners then the $batch (2 requests, 0.3 s); one after another the 11 requests
    # would take 1.65 s. The margin absorbs a loaded machine.
    assert elapsed < 1.0, elapsed


def test_a_403_on_one_endpoint_fails_only_that_read_and_its_dependants() -> None:
    client, _, _ = make_client(tenant({"/v1.0/policies/crossTenantAccessPolicy/partners": _err(403)}))
    facts = gather(client, CLOUD)
    failed = {name for name, r in facts.reads.items() if not r.ok}
    assert failed == {"partners", "tenant_information"}
    partners = facts.reads["partners"]
    assert partners.status == 403 and partners.permission == "Policy.Read.All"
    assert "Policy.Read.All" in partners.error and "Security Reader" in partners.error
    assert facts.reads["tenant_information"].kind == "skipped"
    assert "partners read failed" in facts.reads["tenant_information"].error


def test_member_of_falls_back_to_direct_memberships() -> None:
    direct = {"value": [{"@odata.type": "#microsoft.graph.directoryRole", "roleTemplateId": "x", "displayName": "X"}]}
    client, _, _ = make_client(tenant({"/v1.0/me/transitiveMemberOf": _err(400, "Request_UnsupportedQuery", "no"),
                                       "/v1.0/me/memberOf": direct}))
    value = gather(client, CLOUD, names=["member_of"]).value("member_of")
    assert not value.transitive and value.roles[0].template_id == "x"


def test_user_count_asks_for_the_enabled_members_with_consistency_level_eventual() -> None:
    client, adapter, _ = make_client(tenant())
    value = gather(client, CLOUD, names=["user_count"]).value("user_count")
    (seen,) = [s for s in adapter.seen if s.path == "/v1.0/users/$count"]
    assert seen.query["$filter"] == ["accountEnabled eq true and userType eq 'Member'"]
    assert {k.lower(): v for k, v in seen.headers.items()}["consistencylevel"] == "eventual"
    assert value.count == 25 and value.members_only


def test_user_count_falls_back_when_the_member_filter_is_refused() -> None:
    def count(seen: Seen):
        if "$filter" in seen.query:
            return _err(400, "Request_UnsupportedQuery", "filter not supported with $count")
        return 200, {}, "262"

    client, _, _ = make_client(tenant({"/v1.0/users/$count": count}))
    value = gather(client, CLOUD, names=["user_count"]).value("user_count")
    assert value.count == 262 and value.members_only is False


def test_machines_404_means_no_recent_machines() -> None:
    client, _, _ = make_client(tenant({"/api/machines": _err(404, "ResourceNotFound", "No recent machines")}))
    value = gather(client, CLOUD, names=["machines"]).value("machines")
    assert value.onboarded == 0 and value.no_recent_machines


def test_a_whole_batch_refused_is_a_read_failure() -> None:
    def refused(seen: Seen):
        return 200, {}, {"responses": [{"id": r["id"], "status": 403, "headers": {},
                                        "body": {"error": {"code": "Authorization_RequestDenied", "message": "x"}}}
                                       for r in seen.body["requests"]]}

    client, _, _ = make_client(tenant({"batch": refused}))
    facts = gather(client, CLOUD, names=["tenant_information"])
    info = facts.reads["tenant_information"]
    assert not info.ok and info.permission == "CrossTenantInformation.ReadBasic.All"


def test_sign_in_errors_from_the_token_getter_are_read_failures() -> None:
    from dex_tui.errors import SignInError

    client, _, _ = make_client(tenant())

    def no_mde_token() -> str:
        raise SignInError("Consent for Machine.Read is missing.", next_step="Ask an admin.")

    client._tokens["mde"] = no_mde_token
    facts = gather(client, CLOUD)
    assert {n for n, r in facts.reads.items() if not r.ok} == {"machines", "av_info", "device_groups"}
    assert "Machine.Read" in facts.reads["machines"].error and facts.reads["machines"].kind == "sign-in"


def test_subset_keeps_previous_facts_and_on_read_is_called_per_read() -> None:
    client, adapter, _ = make_client(tenant())
    first = gather(client, CLOUD)
    seen_reads: list[str] = []
    lock = threading.Lock()

    def on_read(result):
        with lock:
            seen_reads.append(result.name)

    before = len(adapter.seen)
    second = gather(client, CLOUD, names=["tenant_information"], previous=first, on_read=on_read)
    assert sorted(seen_reads) == ["partners", "tenant_information"]
    assert len(adapter.seen) - before == 2
    assert second.reads["machines"] is first.reads["machines"]
    assert with_dependencies(["tenant_information"]) == ["partners", "tenant_information"]
    assert set(with_dependencies(READS)) == set(READS)


def test_cancellation_returns_promptly() -> None:
    cancelled = threading.Event()

    def handler(seen: Seen):
        time.sleep(0.3)
        return tenant(devices=10)(seen)

    client, _, _ = make_client(handler)
    threading.Timer(0.1, cancelled.set).start()
    start = time.monotonic()
    with pytest.raises(Interrupted):
        gather(client, CLOUD, is_cancelled=cancelled.is_set)
    assert time.monotonic() - start < 0.3


def test_tenant_names_fall_back_to_single_requests_without_batch_support() -> None:
    def lookup(seen: Seen):
        tid = seen.path.split("'")[1]
        if tid == EXPERTS:
            return 200, {}, {"tenantId": tid, "displayName": "Microsoft Experts", "defaultDomainName": "x"}
        return _err(404, "Request_ResourceNotFound", "no tenant")

    routes = {"batch": lambda seen: _err(404, "Request_ResourceNotFound", "no $batch here")}
    for tid in (EXPERTS, OTHER):
        routes[f"/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='{tid}')"] = lookup
    client, adapter, _ = make_client(tenant(routes))
    names = gather(client, CLOUD, names=["tenant_information"]).value("tenant_information")
    assert names.names[EXPERTS].display_name == "Microsoft Experts" and OTHER in names.failures
    assert [s.path for s in adapter.seen].count("/v1.0/$batch") == 1
