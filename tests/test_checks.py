"""The checks as pure functions over hand-built facts: every status path of every check."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from dex_tui.answers import Answers, Confirmation
from dex_tui.catalogue import CHECK_IDS, catalogue
from dex_tui.checks import REGISTRY, evaluate, looks_like_experts, reads_for
from dex_tui.facts import (
    AvModeCounts,
    CaPolicies,
    CaPolicy,
    CloudInfo,
    DeviceCounts,
    DirectoryRole,
    MemberOf,
    Operator,
    Organization,
    Partner,
    ReadResult,
    ServicePlan,
    Sku,
    TenantFacts,
    TenantName,
    TenantNames,
    UserCount,
)
from dex_tui.results import Group, Severity, Status

PLAN = {name: plan_id for cap in catalogue().plans.values() for plan_id, name in cap.items()}
EXPERTS = "e7a9c1d3-5b2f-4e6a-8c0d-1f3b5d7e9a2c"
FABRIKAM = "3d2b8f6a-1c4e-4b7d-8a9f-5e6c7d8b9a01"
GA = "62e90394-69f5-4237-9190-012177145e10"
SA = "194ae4cb-b126-40b2-bd5b-6091b380977d"
GR = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
WHO = Confirmation("admin@contoso.com", "2025-06-02T09:10:00Z")


def sku(part: str, *plans: str, units: int = 250, status: str = "Enabled", plan_status: str = "Success") -> Sku:
    return Sku(sku_id=f"id-{part}", part_number=part, capability_status=status, enabled_units=units,
               consumed_units=units, plans=tuple(ServicePlan(PLAN[p], p, plan_status) for p in plans))


E5 = sku("SPE_E5", "WINDEFATP", "AAD_PREMIUM", "AAD_PREMIUM_P2", "THREAT_INTELLIGENCE", "ATA",
         "ADALLOM_S_STANDALONE", "Defender_for_Iot_Enterprise")

READY_VALUES: dict[str, Any] = {
    "organization": Organization("tid", "Contoso", "US", "contoso.com", "AAD"),
    "me": Operator("oid", "Megan", "admin@contoso.com"),
    "member_of": MemberOf((DirectoryRole(GA, "Global Administrator"),), True),
    "subscribed_skus": (E5,),
    "user_count": UserCount(250, True),
    "partners": (Partner(EXPERTS, True, True, True), Partner(FABRIKAM, False, True, None)),
    "tenant_information": TenantNames(MappingProxyType({
        EXPERTS: TenantName(EXPERTS, "Microsoft Experts", "msexperts.onmicrosoft.com", ""),
        FABRIKAM: TenantName(FABRIKAM, "Fabrikam", "fabrikam.onmicrosoft.com", "Fabrikam")}), MappingProxyType({})),
    "ca_policies": CaPolicies((CaPolicy("1", "Microsoft Security Experts-Require MFA-DO NOT DELETE", "enabled",
                                        ("mfa", "compliantDevice")),
                               CaPolicy("2", "Microsoft Security Experts-Block-DO NOT DELETE", "enabled", ("block",))),
                              5),
    "machines": DeviceCounts(212, MappingProxyType({"Active": 200, "Inactive": 12}), 1),
    "av_info": AvModeCounts(MappingProxyType({"active": 212}), 212, 1),
}
CONFIRMED = Answers(confirmations={"terms": WHO, "license": WHO}, roles={"security_operator": True, "security_administrator": True})


def make_facts(cloud: str = "commercial", detected: bool = False, **values: Any) -> TenantFacts:
    merged = {**READY_VALUES, **values}
    reads = {name: value if isinstance(value, ReadResult) else ReadResult(name, value=value)
             for name, value in merged.items() if value is not None}
    return TenantFacts(CloudInfo(cloud, detected, "test"), MappingProxyType(reads))


def run(check_id: str, facts: TenantFacts | None = None, answers: Answers = CONFIRMED, service: str = "xdr"):
    facts = facts or make_facts()
    return REGISTRY[check_id].fn(facts, answers, facts.cloud, service)


def failed(name: str, status: int = 403, permission: str = "Policy.Read.All") -> ReadResult:
    return ReadResult(name, error=f"GET /x was refused (403). It needs {permission}.", kind="http", status=status,
                      permission=permission, endpoint="GET graph/x")


def test_ready_tenant_passes_everything_that_can_pass() -> None:
    results = evaluate(make_facts(), CONFIRMED)
    assert [r.id for r in results] == list(CHECK_IDS)
    statuses = {r.id: r.status for r in results}
    assert statuses.pop("coverage.iot") is Status.INFO
    assert statuses.pop("experts.credits") is Status.INFO
    assert statuses.pop("data.residency") is Status.INFO
    assert set(statuses.values()) == {Status.PASS}


def test_every_result_carries_catalogue_metadata_and_a_source() -> None:
    for result in evaluate(make_facts(), Answers()):
        info = catalogue().check(result.id)
        assert result.title == info.title and result.severity == info.severity and result.group == info.group
        assert result.source.document and result.source.ms_date.count("/") == 2
        assert result.source.url.startswith("https://learn.microsoft.com/")
        assert result.summary


def test_catalogue_groups_and_severities() -> None:
    infos = catalogue().checks
    assert infos["license.mde_p2"].severity is Severity.BLOCKER
    assert infos["license.mdo_p2"].group is Group.COVERAGE
    assert infos["data.residency"].group is Group.INFORMATION
    assert set(reads_for(["access.service_provider"])) == {"partners", "tenant_information"}


# -- cloud ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cloud", "service", "status"), [
    ("commercial", "xdr", Status.PASS), ("commercial", "hunting", Status.PASS),
    ("gcc", "xdr", Status.FAIL), ("gcc", "hunting", Status.PASS),
    ("gcchigh", "xdr", Status.FAIL), ("gcchigh", "hunting", Status.FAIL),
    ("dod", "hunting", Status.FAIL), ("china", "xdr", Status.FAIL),
])
def test_cloud_availability(cloud: str, service: str, status: Status) -> None:
    assert run("cloud.availability", make_facts(cloud), service=service).status is status


def test_detected_cloud_is_called_a_hint() -> None:
    result = run("cloud.availability", make_facts("commercial", detected=True))
    assert "hint" in result.summary and result.evidence["detected"] is True
    gcc = run("cloud.availability", make_facts("gcc"))
    assert "Hunting is" in gcc.summary


# -- operator -----------------------------------------------------------------------------------------


def test_operator_roles_paths() -> None:
    assert run("operator.roles").status is Status.PASS
    sec = run("operator.roles", make_facts(member_of=MemberOf((DirectoryRole(SA, "Security Administrator"),), True)))
    assert sec.status is Status.PASS and "Global Administrator" in sec.summary
    reader = run("operator.roles", make_facts(member_of=MemberOf((DirectoryRole(GR, "Global Reader"),), False)))
    assert reader.status is Status.WARN and "Global Reader" in reader.summary
    assert reader.evidence["includes_group_roles"] is False
    assert reader.remediation.action
    nothing = run("operator.roles", make_facts(member_of=MemberOf((), True)), service="hunting")
    assert nothing.status is Status.WARN and "notification contacts" in nothing.summary


def test_operator_roles_unknown_when_member_of_fails_and_me_is_optional() -> None:
    result = run("operator.roles", make_facts(member_of=failed("member_of", permission="User.Read")))
    assert result.status is Status.UNKNOWN and result.evidence["missing_permission"] == "User.Read"
    assert run("operator.roles", make_facts(me=failed("me"))).status is Status.PASS


# -- licences -------------------------------------------------------------------------------------------


def test_mde_p2_paths() -> None:
    assert run("license.mde_p2").status is Status.PASS
    p1 = run("license.mde_p2", make_facts(subscribed_skus=(sku("DEFENDER_ENDPOINT_P1", "MDE_LITE"),)))
    assert p1.status is Status.FAIL and "MDE_LITE" in p1.summary
    smb = run("license.mde_p2", make_facts(subscribed_skus=(sku("MDE_SMB", "MDE_SMB"),)))
    assert smb.status is Status.FAIL and "MDE_SMB" in smb.summary
    pending = run("license.mde_p2", make_facts(subscribed_skus=(sku("WIN_DEF_ATP", "WINDEFATP",
                                                                    plan_status="PendingProvisioning"),)))
    assert pending.status is Status.WARN and "PendingProvisioning" in pending.summary
    suspended = run("license.mde_p2", make_facts(subscribed_skus=(sku("WIN_DEF_ATP", "WINDEFATP", status="Suspended"),)))
    assert suspended.status is Status.FAIL and "not active" in suspended.summary
    no_units = run("license.mde_p2", make_facts(subscribed_skus=(sku("WIN_DEF_ATP", "WINDEFATP", units=0),)))
    assert no_units.status is Status.FAIL
    grace = run("license.mde_p2", make_facts(subscribed_skus=(sku("WIN_DEF_ATP", "WINDEFATP", status="Warning"),)))
    assert grace.status is Status.PASS
    none = run("license.mde_p2", make_facts(subscribed_skus=()))
    assert none.status is Status.FAIL and none.remediation.link


def test_mde_p2_is_found_by_service_plan_in_a_bundle_not_by_sku_name() -> None:
    bundle = sku("SOME_FUTURE_BUNDLE", "WINDEFATP", "AAD_PREMIUM")
    result = run("license.mde_p2", make_facts(subscribed_skus=(bundle,)))
    assert result.status is Status.PASS and "SOME_FUTURE_BUNDLE" in result.summary


def test_entra_p1_compares_enabled_units_with_enabled_member_accounts() -> None:
    passed = run("license.entra_p1")
    assert passed.status is Status.PASS and "250 enabled members" in passed.summary
    # The seed: Entra ID P1 for all users. A shortfall fails the blocker, with both numbers in the evidence.
    units_150 = (sku("AAD_PREMIUM", "AAD_PREMIUM", units=150),)
    short = run("license.entra_p1", make_facts(subscribed_skus=units_150, user_count=UserCount(240, True)))
    assert short.status is Status.FAIL and short.severity is Severity.BLOCKER
    assert (short.evidence["enabled_units"], short.evidence["users_needing_p1"], short.evidence["shortfall"]) \
        == (150, 240, 90)
    assert "150 Entra ID P1 units for 240 enabled members: 90 short" in short.summary
    assert short.remediation.action and short.remediation.link
    exact = run("license.entra_p1", make_facts(subscribed_skus=units_150, user_count=UserCount(150, True)))
    assert exact.status is Status.PASS
    missing = run("license.entra_p1", make_facts(subscribed_skus=(sku("WIN_DEF_ATP", "WINDEFATP"),)))
    assert missing.status is Status.FAIL and missing.severity is Severity.BLOCKER
    p2_only = run("license.entra_p1", make_facts(subscribed_skus=(sku("AAD_PREMIUM_P2", "AAD_PREMIUM_P2"),)))
    assert p2_only.status is Status.PASS and p2_only.evidence["entra_p2"] is True
    two = run("license.entra_p1", make_facts(subscribed_skus=(sku("A", "AAD_PREMIUM", units=100),
                                                              sku("B", "AAD_PREMIUM", "AAD_PREMIUM_P2", units=150))))
    assert two.evidence["enabled_units"] == 250 and two.status is Status.PASS
    # The filter refused: every user was counted, so enough units still pass but a shortfall is unknown.
    all_users = run("license.entra_p1", make_facts(user_count=UserCount(200, False)))
    assert all_users.status is Status.PASS
    assert all_users.evidence["members_only"] is False and "guests" in all_users.summary
    overcounted = run("license.entra_p1", make_facts(user_count=UserCount(300, False)))
    assert overcounted.status is Status.UNKNOWN and "could not be counted" in overcounted.summary


def test_entra_p1_unknown_when_the_user_count_fails_and_skipped_for_hunting() -> None:
    result = run("license.entra_p1", make_facts(user_count=failed("user_count", permission="User.ReadBasic.All")))
    assert result.status is Status.UNKNOWN and "User.ReadBasic.All" in result.summary
    hunting = run("license.entra_p1", service="hunting")
    assert hunting.status is Status.SKIPPED and "not a Defender Experts for Hunting prerequisite" in hunting.summary


@pytest.mark.parametrize(("check_id", "plan", "lesser"), [
    ("license.mdo_p2", "THREAT_INTELLIGENCE", "ATP_ENTERPRISE"),
    ("license.mdi", "ATA", None),
    ("license.mdca", "ADALLOM_S_STANDALONE", "ADALLOM_S_O365"),
])
def test_coverage_licences(check_id: str, plan: str, lesser: str | None) -> None:
    present = run(check_id, make_facts(subscribed_skus=(sku("X", plan),)))
    assert present.status is Status.PASS
    absent = run(check_id, make_facts(subscribed_skus=(sku("Y", "WINDEFATP"),)))
    assert absent.status is Status.INFO and "not licensed" in absent.summary and absent.remediation.action
    if lesser:
        only_lesser = run(check_id, make_facts(subscribed_skus=(sku("Z", lesser),)))
        assert only_lesser.status is Status.INFO and lesser in only_lesser.summary
    pending = run(check_id, make_facts(subscribed_skus=(sku("X", plan, plan_status="PendingActivation"),)))
    assert pending.status is Status.INFO and "not provisioned" in pending.summary


def test_gcc_office_plan_counts() -> None:
    result = run("license.mdo_p2", make_facts(subscribed_skus=(sku("THREAT_INTELLIGENCE_GOV", "THREAT_INTELLIGENCE_GOV"),)))
    assert result.status is Status.PASS


def test_iot_is_information_either_way() -> None:
    licensed = run("coverage.iot")
    assert licensed.status is Status.INFO and "does not cover" in licensed.summary
    absent = run("coverage.iot", make_facts(subscribed_skus=(sku("Y", "WINDEFATP"),)))
    assert absent.status is Status.INFO and "not licensed" in absent.summary


def test_a_failed_sku_read_makes_exactly_the_licence_checks_unknown() -> None:
    facts = make_facts(subscribed_skus=failed("subscribed_skus", permission="LicenseAssignment.Read.All"))
    results = {r.id: r for r in evaluate(facts, CONFIRMED)}
    unknown = {i for i, r in results.items() if r.status is Status.UNKNOWN}
    assert unknown == {"license.mde_p2", "license.entra_p1", "license.mdo_p2", "license.mdi", "license.mdca",
                       "coverage.iot"}
    assert results["license.mde_p2"].evidence["missing_permission"] == "LicenseAssignment.Read.All"
    assert results["experts.license"].status is Status.PASS  # the hint is optional
    assert "hint_unavailable" in results["experts.license"].evidence


# -- devices ----------------------------------------------------------------------------------------------


def test_devices_onboarded_paths() -> None:
    ok = run("devices.onboarded")
    assert ok.status is Status.PASS and "212" in ok.summary and ok.evidence["by_health_status"]["Active"] == 200
    none = run("devices.onboarded", make_facts(machines=DeviceCounts(0, MappingProxyType({}), 1, True)))
    assert none.status is Status.FAIL and none.evidence["api_answer"].startswith("404")
    silent = run("devices.onboarded", make_facts(machines=DeviceCounts(5, MappingProxyType({"Inactive": 5}), 1)))
    assert silent.status is Status.WARN


def test_av_mode_paths() -> None:
    assert run("devices.av_mode").status is Status.PASS
    mixed = run("devices.av_mode", make_facts(av_info=AvModeCounts(
        MappingProxyType({"active": 164, "passive": 40, "edr_blocked": 8}), 212, 1)))
    assert mixed.status is Status.WARN
    assert "164 of 212" in mixed.summary and "40 passive" in mixed.summary and "8 EDR in block mode" in mixed.summary
    assert mixed.evidence["by_mode"] == {"active": 164, "passive": 40, "edr_blocked": 8}
    assert "guide" in mixed.summary and "guide" not in run("devices.av_mode", make_facts(av_info=AvModeCounts(
        MappingProxyType({"active": 1, "passive": 1}), 2, 1)), service="hunting").summary
    none_active = run("devices.av_mode", make_facts(av_info=AvModeCounts(MappingProxyType({"passive": 3}), 3, 1)))
    assert none_active.status is Status.FAIL and "3 passive" in none_active.summary
    empty = run("devices.av_mode", make_facts(av_info=AvModeCounts(MappingProxyType({}), 0, 1)))
    assert empty.status is Status.FAIL
    assert "soften" in mixed.note


def test_device_reads_failing_only_touch_device_checks() -> None:
    facts = make_facts(av_info=failed("av_info", permission="Machine.Read"))
    results = {r.id: r.status for r in evaluate(facts, CONFIRMED)}
    assert results["devices.av_mode"] is Status.UNKNOWN
    assert [i for i, s in results.items() if s is Status.UNKNOWN] == ["devices.av_mode"]


# -- confirmations ------------------------------------------------------------------------------------------


def test_terms_use_the_recorded_confirmation() -> None:
    confirmed = run("experts.terms")
    assert confirmed.status is Status.PASS and WHO.by in confirmed.summary and WHO.at in confirmed.summary
    assert confirmed.evidence == {"confirmed_by": WHO.by, "confirmed_at": WHO.at, "verifiable_from_graph": False}
    missing = run("experts.terms", answers=Answers())
    assert missing.status is Status.UNKNOWN and "Cannot be read" in missing.summary
    assert run("experts.terms", answers=Answers(service="hunting"), service="hunting").status is Status.UNKNOWN


def test_licence_confirmation_and_the_expert_sku_hint() -> None:
    hint = sku("DEFENDER_EXPERTS_XDR_ASSUMED", "WINDEFATP")
    facts = make_facts(subscribed_skus=(E5, hint))
    unconfirmed = run("experts.license", facts, answers=Answers())
    assert unconfirmed.status is Status.UNKNOWN, "a SKU name is a hint, never proof"
    assert "DEFENDER_EXPERTS_XDR_ASSUMED" in unconfirmed.summary and "hint" in unconfirmed.summary
    confirmed = run("experts.license", facts)
    assert confirmed.status is Status.PASS and confirmed.evidence["confirmed_by"] == WHO.by
    no_hint = run("experts.license", make_facts(), answers=Answers())
    assert no_hint.evidence["hint_subscriptions"] == [] and "looks like" not in no_hint.summary


def test_roles_skipping_security_operator_names_each_lost_action() -> None:
    answers = Answers(roles={"security_operator": False, "security_administrator": True},
                      acknowledgements={"skip_security_operator": WHO})
    result = run("experts.roles", answers=answers)
    assert result.status is Status.WARN
    for action in catalogue().role("security_operator").lost_actions:
        assert action in result.summary
    assert result.evidence["lost_actions"] == list(catalogue().role("security_operator").lost_actions)
    assert "not acknowledged" not in result.summary
    assert result.evidence["acknowledgements"]["skip_security_operator"]["confirmed_by"] == WHO.by


def test_roles_skipping_security_administrator_names_what_it_adds() -> None:
    answers = Answers(roles={"security_operator": True, "security_administrator": False})
    result = run("experts.roles", answers=answers)
    assert result.status is Status.WARN and "not acknowledged" in result.summary
    assert "configure security settings" in result.summary and "deploy preventive measures" in result.summary
    assert "Security Administrator level" in result.note


def test_roles_other_paths() -> None:
    assert run("experts.roles").status is Status.PASS
    assert run("experts.roles", answers=Answers()).status is Status.UNKNOWN
    both = run("experts.roles", answers=Answers(roles={"security_operator": False, "security_administrator": False}))
    assert both.status is Status.WARN and "Security operator skipped" in both.summary \
        and "Security administrator skipped" in both.summary
    hunting = run("experts.roles", answers=Answers(service="hunting"), service="hunting")
    assert hunting.status is Status.SKIPPED and "Hunting" in hunting.summary


# -- access --------------------------------------------------------------------------------------------------


def names(**entries: TenantName) -> TenantNames:
    return TenantNames(MappingProxyType(entries), MappingProxyType({}))


def test_service_provider_paths() -> None:
    assert run("access.service_provider").status is Status.PASS
    no_trust = make_facts(partners=(Partner(EXPERTS, True, True, False),))
    weak = run("access.service_provider", no_trust)
    assert weak.status is Status.WARN and "compliant devices" in weak.summary
    not_sp = run("access.service_provider", make_facts(partners=(Partner(EXPERTS, False, True, True),)))
    assert not_sp.status is Status.FAIL and "not marked as service provider" in not_sp.summary
    absent = run("access.service_provider", make_facts(partners=(Partner(FABRIKAM, True, True, True),)))
    assert absent.status is Status.FAIL and "not been given" in absent.summary
    assert absent.evidence["other_service_providers"][0]["name"] == "Fabrikam"
    empty = run("access.service_provider", make_facts(partners=(), tenant_information=names()))
    assert empty.status is Status.FAIL


def test_service_provider_unknown_when_a_provider_cannot_be_named() -> None:
    info = TenantNames(MappingProxyType({}), MappingProxyType({FABRIKAM: "GET ... answered 404"}))
    result = run("access.service_provider", make_facts(partners=(Partner(FABRIKAM, True, True, True),),
                                                       tenant_information=info))
    assert result.status is Status.UNKNOWN and "404" in result.summary


def test_service_provider_failed_partner_read_names_the_scope_and_skips_tenant_information() -> None:
    partners = failed("partners")
    skipped = ReadResult("tenant_information", error="Not read, because the partners read failed", kind="skipped")
    result = run("access.service_provider", make_facts(partners=partners, tenant_information=skipped))
    assert result.status is Status.UNKNOWN and result.evidence["missing_permission"] == "Policy.Read.All"
    assert result.evidence["read"] == "partners"


def test_experts_tenant_is_recognised_by_name_never_by_id() -> None:
    assert looks_like_experts(TenantName("x", "Microsoft Experts", "", ""))
    assert looks_like_experts(TenantName("x", "", "microsoftexperts.onmicrosoft.com", ""))
    assert not looks_like_experts(TenantName("x", "Contoso Experts", "contosoexperts.onmicrosoft.com", ""))
    assert not looks_like_experts(TenantName("37ac251a-9341-4ae8-b2a2-aa7febf5ce05", "Fabrikam", "", ""))
    assert not looks_like_experts(None)


def test_conditional_access_paths() -> None:
    assert run("access.conditional_access").status is Status.PASS
    none = run("access.conditional_access", make_facts(ca_policies=CaPolicies((), 3)))
    assert none.status is Status.FAIL and "3 conditional access" in none.summary
    one_off = CaPolicies((CaPolicy("1", "Microsoft Security Experts-A-DO NOT DELETE", "enabled", ()),
                          CaPolicy("2", "Microsoft Security Experts-B-DO NOT DELETE", "disabled", ())), 2)
    warn = run("access.conditional_access", make_facts(ca_policies=one_off))
    assert warn.status is Status.WARN and "disabled" in warn.summary
    assert run("access.conditional_access", service="hunting").status is Status.SKIPPED


# -- information --------------------------------------------------------------------------------------------


def test_credits_state_the_quarterly_rule() -> None:
    result = run("experts.credits")
    assert result.status is Status.INFO and "10 credits" in result.summary and "20" in result.summary
    assert "two credits" in result.note


@pytest.mark.parametrize(("country", "cloud", "service", "where"), [
    ("US", "commercial", "xdr", "worldwide"), ("DE", "commercial", "xdr", "European Union"),
    ("US", "gcc", "mdr", "United States"), ("US", "commercial", "mdr", "worldwide"), ("FR", "commercial", "mdr", "European Union"),
    ("NO", "commercial", "hunting", "European Union"), ("JP", "commercial", "hunting", "worldwide"),
    ("US", "gcc", "hunting", "United States"),
])
def test_residency(country: str, cloud: str, service: str, where: str) -> None:
    facts = make_facts(cloud, organization=Organization("t", "T", country, "t.com", "AAD"))
    result = run("data.residency", facts, service=service)
    assert result.status is Status.INFO and where in result.summary
    assert "90 days" in result.summary and "30 days" in result.summary


def test_residency_unknown_without_country() -> None:
    facts = make_facts(organization=Organization("t", "T", None, "t.com", None))
    result = run("data.residency", facts)
    assert result.status is Status.UNKNOWN and "Organization.Read.All" in result.summary


def test_hostile_tenant_strings_are_cleaned_in_results() -> None:
    evil = "\x1b]8;;https://evil.example\x07Microsoft Experts\x1b[31m"
    facts = make_facts(tenant_information=names(**{EXPERTS: TenantName(EXPERTS, evil, "", "")}))
    result = run("access.service_provider", facts)
    assert result.status is Status.PASS
    assert "\x1b" not in result.summary and "\x07" not in str(result.to_dict())


def test_hunting_skips_exactly_the_access_and_role_checks() -> None:
    results = evaluate(make_facts(), Answers(service="hunting"))
    skipped = {r.id for r in results if r.status is Status.SKIPPED}
    assert skipped == {"license.entra_p1", "experts.roles", "access.service_provider", "access.conditional_access"}
