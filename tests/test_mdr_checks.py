"""Today's flows against the fake cloud: every new MDR check (and Hunting's sample notification) passes,
warns, fails and is unknown where the tenant says so; MDR's rules for the seed checks; the reads' scope
enforcement; the portal actions of the new steps; the headless report of ``--service mdr``."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from dex_tui.answers import Answers
from dex_tui.catalogue import check_ids_for
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo.portal import PortalRefused
from dex_tui.demo.testing import signed_in
from dex_tui.engine import Checker
from dex_tui.graph import GraphClient
from dex_tui.mdr_answers import Contact, HuntingOnboarding, MdrAnswers, Recorded
from dex_tui.results import CheckResult, Severity, Status
from dex_tui.scopes import GRAPH_SCOPES
from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL, Endpoints
from dex_tui.tenant_facts import CloudInfo

# The contract of issue 17: every id `check --service mdr` reports (besides the seed checks it skips).
MDR_IDS = ("cloud.availability", "license.mdr_coverage", "license.entra_p1", "license.entra_p2", "license.mdo_p2",
           "license.mdi", "license.mdca", "coverage.iot", "devices.onboarded", "operator.roles",
           "access.service_provider", "access.conditional_access", "devices.av_mode", "experts.access_level",
           "exclusions.groups", "contacts.notification", "teams.ready", "coverage.scoped",
           "readiness.protected_assets")
WHO = Recorded("admin@contoso.onmicrosoft.com", "2025-06-02T09:10:00Z")
CONTACTS = (Contact("soc@contoso.com", "incident_notification", "+1 425 555 0100"),
            Contact("ciso@contoso.com", "service_review"))
FULL = MdrAnswers(access_levels=("security_reader", "security_operator"), access_recorded=WHO,
                  exclusion_device_groups=("Servers",), exclusion_user_groups=("VIP Executives",), contacts=CONTACTS,
                  teams=True, scoped_coverage=False)


def answers(mdr: MdrAnswers | None = FULL, **changes: Any) -> Answers:
    return Answers(service="mdr", mdr=replace(mdr, **changes) if mdr is not None and changes else mdr)


def cloud_for(scenario: str, patch: dict[str, Any] | None = None, faults: tuple[dict[str, Any], ...] = ()) -> FakeCloud:
    loaded = load_scenario(scenario)
    if patch:
        loaded = loaded.merged(patch)
    if faults:
        loaded = loaded.with_faults(*faults)
    return FakeCloud(loaded)


def checker_for(cloud: FakeCloud, scopes: tuple[str, ...] = GRAPH_SCOPES) -> Checker:
    session, graph, mde = signed_in(cloud, scopes)
    client = GraphClient(session, Endpoints(DEMO_LOGIN_URL, DEMO_GRAPH_URL, DEMO_MDE_URL),
                         graph_token=lambda: graph, mde_token=lambda: mde, sleep=lambda seconds: None)
    return Checker(client, CloudInfo(cloud.scenario.cloud.name))


def run(scenario: str, given: Answers | None = None, *, service: str = "mdr", patch: dict[str, Any] | None = None,
        faults: tuple[dict[str, Any], ...] = (), portal: str = "") -> dict[str, CheckResult]:
    cloud = cloud_for(scenario, patch, faults)
    if portal:
        getattr(cloud.portal, portal)()
    return {r.id: r for r in checker_for(cloud).run(given or answers(), service)}


def refused(endpoint: str, status: int = 403) -> dict[str, Any]:
    return {"endpoint": endpoint, "kind": "status", "status": status, "count": 0}


# ------------------------------------------------------------------------------------ the report


def test_check_service_mdr_reports_every_contract_id(capsys, tmp_path) -> None:
    from dex_tui.cli import run as cli

    code = cli(["--demo", "mdr-ready", "--state-dir", str(tmp_path), "check", "--service", "mdr", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    ids = [c["id"] for c in report["checks"]]
    assert set(MDR_IDS) <= set(ids) and ids == list(check_ids_for("mdr"))
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert all(statuses[i] != "skipped" for i in MDR_IDS)
    assert {i for i, s in statuses.items() if s == "skipped"} == {"license.mde_p2", "experts.terms",
                                                                   "experts.license", "experts.roles"}
    assert report["service"] == "mdr" and report["service_name"] == "Defender Experts MDR"
    assert code == 1 and statuses["experts.access_level"] == "unknown"  # no answers file: nothing recorded


def test_every_mdr_check_names_an_mdr_or_today_source() -> None:
    results = run("mdr-ready")
    for check_id in MDR_IDS:
        source = results[check_id].source
        assert source.ms_date and ("MDR" in source.document or "Defender Experts" in source.document), check_id
        assert "2022 seed" not in source.document and "before-you-begin" not in source.document, check_id


def test_mdr_ready_with_every_choice_recorded_is_ready() -> None:
    from dex_tui.report import exit_code_for

    results = run("mdr-ready")
    assert exit_code_for(results.values()) == 0
    assert {i: r.status for i, r in results.items() if r.status not in (Status.PASS, Status.INFO, Status.SKIPPED)} \
        == {}


def test_mdr_answers_round_trip_through_the_answers_file() -> None:
    import tomllib

    given = Answers(service="mdr", mdr=replace(FULL, operator_skip_acknowledged=None),
                    hunting=HuntingOnboarding((Contact("a@contoso.com", "primary"),), WHO))
    assert Answers.from_dict(tomllib.loads(given.to_toml())) == given
    assert given.to_dict()["mdr"]["exclusions"] == {"device_groups": ["Servers"], "user_groups": ["VIP Executives"]}


# ------------------------------------------------------------------------------------ MDR's rules for seed checks


@pytest.mark.parametrize(("scenario", "status", "words"), [
    ("mdr-ready", Status.PASS, "offered in the Commercial cloud"),
    ("mdr-gcc", Status.PASS, "MDR Plan 1 for Gov"),
    ("gcc-high", Status.FAIL, "not offered"),
])
def test_cloud_availability_for_mdr(scenario: str, status: Status, words: str) -> None:
    result = run(scenario)["cloud.availability"]
    assert result.status is status and words in result.summary
    if scenario == "mdr-gcc":
        assert "FedRAMP" in result.summary and result.evidence["fedramp"] is False


def test_cloud_availability_for_xdr_in_gcc_still_fails() -> None:
    assert run("gcc", Answers(), service="xdr")["cloud.availability"].status is Status.FAIL


@pytest.mark.parametrize(("scenario", "patch", "faults", "status"), [
    ("mdr-ready", None, (), Status.PASS),
    ("mdr-mdo-only", None, (), Status.WARN),
    ("mdr-ready", {"skus": [{"part_number": "THREAT_INTELLIGENCE", "enabled": 250, "plans": ["THREAT_INTELLIGENCE"]}],
                   "operator": {"licenses": []}}, (), Status.FAIL),
    ("mdr-ready", None, (refused("graph.subscribedSkus"),), Status.UNKNOWN),
])
def test_entra_p1_follows_mdrs_rule(scenario: str, patch: dict[str, Any] | None, faults: tuple[dict[str, Any], ...],
                                    status: Status) -> None:
    result = run(scenario, patch=patch, faults=faults)["license.entra_p1"]
    assert result.status is status and result.severity is Severity.BLOCKER
    if status is Status.WARN:
        assert "200 units for 250 enabled members: 50 short" in result.summary


@pytest.mark.parametrize(("scenario", "faults", "status"), [
    ("mdr-ready", (), Status.PASS),
    ("passive-av", (), Status.WARN),
    ("mdr-mdo-only", (), Status.WARN),
    ("mdr-ready", (refused("mde.deviceavinfo"),), Status.UNKNOWN),
])
def test_av_mode_is_recommended_for_mdr_and_says_what_passive_costs(scenario: str, faults: tuple[dict[str, Any], ...],
                                                                    status: Status) -> None:
    result = run(scenario, faults=faults)["devices.av_mode"]
    assert result.status is status and result.severity is Severity.RECOMMENDED
    if scenario == "passive-av":
        assert "guided response only" in result.summary and "no remediation" in result.summary
    assert run("passive-av", Answers(), service="xdr")["devices.av_mode"].severity is Severity.BLOCKER


# ------------------------------------------------------------------------------------ licences


@pytest.mark.parametrize(("scenario", "faults", "status"), [
    ("mdr-ready", (), Status.PASS),
    ("mdr-mdo-only", (), Status.PASS),
    ("mdr-not-covered", (), Status.FAIL),
    ("mdr-ready", (refused("graph.subscribedSkus"),), Status.UNKNOWN),
])
def test_mdr_coverage_needs_any_one_covered_product(scenario: str, faults: tuple[dict[str, Any], ...],
                                                     status: Status) -> None:
    result = run(scenario, faults=faults)["license.mdr_coverage"]
    assert result.status is status
    if scenario == "mdr-mdo-only":
        assert result.evidence["licensed"] == ["Defender for Office 365 P2"]
        assert "Defender for Endpoint P2" in result.evidence["missing"] and "Not licensed:" in result.summary
    if scenario == "mdr-not-covered":
        assert len(result.evidence["missing"]) == 5


@pytest.mark.parametrize(("scenario", "faults", "status"), [
    ("mdr-ready", (), Status.PASS),
    ("mdr-mdo-only", (), Status.INFO),
    ("mdr-ready", (refused("graph.subscribedSkus"),), Status.UNKNOWN),
])
def test_entra_p2(scenario: str, faults: tuple[dict[str, Any], ...], status: Status) -> None:
    assert run(scenario, faults=faults)["license.entra_p2"].status is status


# ------------------------------------------------------------------------------------ recorded choices


@pytest.mark.parametrize(("given", "status"), [
    (answers(), Status.PASS),
    (answers(access_levels=("security_reader",), operator_skip_acknowledged=WHO), Status.WARN),
    (answers(access_levels=()), Status.FAIL),
    (answers(None), Status.UNKNOWN),
])
def test_access_level(given: Answers, status: Status) -> None:
    result = run("mdr-ready", given)["experts.access_level"]
    assert result.status is status and result.evidence["verifiable_from_graph"] is False
    if status is Status.WARN:
        assert "Isolate a device" in result.summary and "Soft-delete emails" in result.summary
        assert result.evidence["acknowledged"]["by"] == WHO.by


@pytest.mark.parametrize(("contacts", "status"), [
    (CONTACTS, Status.PASS),
    (CONTACTS[:1], Status.WARN),
    ((Contact("not-an-address", "service_review"),), Status.FAIL),
    (None, Status.UNKNOWN),
])
def test_contacts(contacts: tuple[Contact, ...] | None, status: Status) -> None:
    assert run("mdr-ready", answers(contacts=contacts))["contacts.notification"].status is status


# ------------------------------------------------------------------------------------ exclusions, Teams, scope


@pytest.mark.parametrize(("scenario", "given", "faults", "status", "words"), [
    ("mdr-ready", answers(), (), Status.PASS, "exists"),
    ("mdr-synced-exclusion", answers(), (), Status.FAIL, "on-premises users cannot be excluded"),
    ("mdr-ready", answers(exclusion_device_groups=("Finance PCs",)), (), Status.FAIL,
     "no Defender for Endpoint device group named Finance PCs"),
    ("mdr-ready", answers(exclusion_user_groups=("Nobody",)), (), Status.FAIL, "no Entra group named Nobody"),
    ("mdr-ready", answers(exclusion_device_groups=None), (refused("graph.groups"),), Status.UNKNOWN, "VIP Executives"),
    ("mdr-ready", answers(exclusion_device_groups=None, exclusion_user_groups=None), (), Status.INFO, "optional"),
])
def test_exclusion_groups(scenario: str, given: Answers, faults: tuple[dict[str, Any], ...], status: Status,
                          words: str) -> None:
    result = run(scenario, given, faults=faults)["exclusions.groups"]
    assert result.status is status and words in result.summary, result.summary


def test_an_exclusion_group_that_is_not_a_security_group_fails() -> None:
    result = run("mdr-ready", answers(exclusion_user_groups=("Defender Experts team",)),
                 portal="communicate_on_teams")["exclusions.groups"]
    assert result.status is Status.FAIL and "not a security group" in result.summary


@pytest.mark.parametrize(("scenario", "given", "patch", "faults", "portal", "status", "words"), [
    ("mdr-ready", answers(), None, (), "", Status.PASS, "does not exist yet"),
    ("mdr-ready", answers(), None, (), "communicate_on_teams", Status.PASS, "Defender Experts team exists"),
    ("mdr-no-group-creation", answers(), None, (), "", Status.FAIL, "EnableGroupCreation = false"),
    ("mdr-no-group-creation", answers(), {"group_settings": {"group_creation_allowed_group": "IT Admins"}}, (), "",
     Status.PASS, "does not exist yet"),
    ("mdr-ready", answers(), {"operator": {"licenses": []}}, (), "", Status.WARN, "no Teams licence"),
    ("mdr-ready", answers(teams_recorded=WHO), None, (), "", Status.WARN, "recorded as set up"),
    ("mdr-ready", answers(), None, (refused("graph.groupSettings"),), "", Status.UNKNOWN, "group creation"),
    ("mdr-ready", answers(teams=False), None, (), "", Status.INFO, "not chosen"),
])
def test_teams_ready(scenario: str, given: Answers, patch: dict[str, Any] | None,
                     faults: tuple[dict[str, Any], ...], portal: str, status: Status, words: str) -> None:
    result = run(scenario, given, patch=patch, faults=faults, portal=portal)["teams.ready"]
    assert result.status is status and words in result.summary, result.summary


def test_the_portal_refuses_teams_without_group_creation_or_licence() -> None:
    with pytest.raises(PortalRefused, match="group creation is turned off"):
        cloud_for("mdr-no-group-creation").portal.communicate_on_teams()
    with pytest.raises(PortalRefused, match="Teams licence"):
        cloud_for("ready").portal.communicate_on_teams()
    with pytest.raises(PortalRefused, match="Security Administrator"):
        cloud_for("not-admin", {"operator": {"licenses": ["SPE_E5"]}}).portal.communicate_on_teams()


@pytest.mark.parametrize(("scenario", "faults", "portal", "status", "words"), [
    ("mdr-ready", (), "create_scoped_coverage_users_group", Status.PASS, "Defender_Experts_Scoped_Coverage_Users"),
    ("mdr-scoped-nested", (), "", Status.FAIL, "nested groups (Contractors)"),
    ("mdr-ready", (), "", Status.FAIL, "neither"),
    ("mdr-ready", (refused("graph.huntingQuery"), refused("mde.machines")), "create_scoped_coverage_users_group",
     Status.UNKNOWN, "device group"),
])
def test_scoped_coverage(scenario: str, faults: tuple[dict[str, Any], ...], portal: str, status: Status,
                         words: str) -> None:
    result = run(scenario, answers(scoped_coverage=True), faults=faults, portal=portal)["coverage.scoped"]
    assert result.status is status and words in result.summary, result.summary


def test_scoped_coverage_not_chosen_is_information() -> None:
    assert run("mdr-scoped-nested")["coverage.scoped"].status is Status.INFO


# ------------------------------------------------------------------------------------ readiness


@pytest.mark.parametrize(("scenario", "faults", "status", "words"), [
    ("mdr-ready", (), Status.PASS, "270 onboarded devices for 270 Defender for Endpoint P2 seats"),
    ("ready", (), Status.WARN, "58 seats without an onboarded device"),
    ("mdr-synced-exclusion", (), Status.WARN, "2 open Defender for Identity health issue(s) (1 high, 1 medium)"),
    ("mdr-ready", (refused("graph.healthIssues"), refused("graph.huntingQuery"), refused("mde.machines")),
     Status.UNKNOWN, "Could not be evaluated"),
])
def test_protected_assets(scenario: str, faults: tuple[dict[str, Any], ...], status: Status, words: str) -> None:
    result = run(scenario, faults=faults)["readiness.protected_assets"]
    assert result.status is status and words in result.summary, result.summary


# ------------------------------------------------------------------------------------ Hunting's sample notification


def hunting(sent: bool = True, contacts: tuple[Contact, ...] | None = (Contact("soc@contoso.com", "primary"),)) -> Answers:
    return Answers(service="hunting", hunting=HuntingOnboarding(contacts, WHO if sent else None))


@pytest.mark.parametrize(("given", "faults", "portal", "status"), [
    (hunting(), (), "send_sample_notification", Status.PASS),
    (hunting(contacts=(Contact("soc@contoso.com", "backup"),)), (), "send_sample_notification", Status.WARN),
    (hunting(), (), "", Status.FAIL),
    (hunting(), (refused("graph.incidents"),), "send_sample_notification", Status.UNKNOWN),
    (hunting(sent=False), (), "", Status.INFO),
])
def test_hunting_sample_notification(given: Answers, faults: tuple[dict[str, Any], ...], portal: str,
                                     status: Status) -> None:
    results = run("ready", given, service="hunting", faults=faults, portal=portal)
    result = results["hunting.sample_notification"]
    assert result.status is status, result.summary
    if status is Status.PASS:
        assert "Defender Experts: Test Notification from Microsoft Defender Experts" in result.summary
    assert "teams.ready" not in results and "hunting.sample_notification" not in run("ready", Answers(), service="xdr")


def test_the_sample_incident_is_searched_only_among_the_most_recent() -> None:
    old = [{"name": f"Suspicious sign-in {n}", "created": f"2025-06-01T{n % 24:02d}:00:00Z"} for n in range(230)]
    sample = {"name": "Defender Experts: Test Notification from Microsoft Defender Experts",
              "created": "2025-05-01T00:00:00Z"}
    result = run("ready", hunting(), service="hunting",
                 patch={"incidents": [*old, sample]})["hunting.sample_notification"]
    assert result.status is Status.UNKNOWN and "200 most recent" in result.summary


# ------------------------------------------------------------------------------------ least privilege


@pytest.mark.parametrize(("scope", "read", "check_id", "service"), [
    ("SecurityIncident.Read.All", "incidents", "hunting.sample_notification", "hunting"),
    ("SecurityIdentitiesHealth.Read.All", "identity_health", "readiness.protected_assets", "mdr"),
    ("GroupMember.Read.All", "mdr_groups", "exclusions.groups", "mdr"),
    ("GroupSettings.Read.All", "group_settings", "teams.ready", "mdr"),
])
def test_a_missing_scope_is_a_403_that_names_it(scope: str, read: str, check_id: str, service: str) -> None:
    cloud = cloud_for("mdr-ready")
    cloud.portal.send_sample_notification()
    checker = checker_for(cloud, tuple(s for s in GRAPH_SCOPES if s != scope))
    given = hunting() if service == "hunting" else answers(exclusion_device_groups=None)
    results = {r.id: r for r in checker.run(given, service)}
    failure = checker.facts.reads[read]
    assert not failure.ok and failure.status == 403 and failure.permission == scope
    assert results[check_id].status is Status.UNKNOWN


def test_mdr_reads_are_not_made_for_xdr() -> None:
    cloud = cloud_for("ready")
    checker_for(cloud).run(Answers(), "xdr")
    paths = {path for _, _, path in cloud.request_log}
    assert not {p for p in paths if "licenseDetails" in p or "healthIssues" in p or "incidents" in p
                or p.startswith("/v1.0/groups")}


def test_a_malformed_health_issue_answer_is_unknown() -> None:
    fault = {"endpoint": "graph.healthIssues", "kind": "malformed", "count": 0}
    result = run("mdr-ready", faults=(fault,))["readiness.protected_assets"]
    assert result.status is Status.UNKNOWN and "not read" in result.summary


def test_device_groups_are_paged_only_when_a_choice_names_one() -> None:
    cloud = cloud_for("mdr-ready")
    checker = checker_for(cloud)
    without = answers(exclusion_device_groups=None)
    checker.run(without, "mdr")
    assert checker.facts.reads["device_groups"].requests == 0
    assert not checker.facts.value("device_groups").looked_up
    # The wizard records a device group afterwards: re-evaluating from the facts read cannot confirm it ...
    later = answers()
    assert checker.reevaluate(later, "mdr", ["exclusions.groups"])[0].status is Status.UNKNOWN
    # ... re-reading that check's reads does.
    (result,) = checker.refresh(["exclusions.groups"], later, "mdr")
    assert result.status is Status.PASS and checker.facts.reads["device_groups"].requests == 1


@pytest.mark.parametrize(("patch", "field"), [
    ({"groups": [{"name": "A", "member_groups": ["B"]}]}, "groups[0].member_groups[0]"),
    ({"groups": [{"name": "A", "security_enabled": False}]}, "groups[0].security_enabled"),
    ({"operator": {"licenses": ["NOPE"]}}, "operator.licenses[0]"),
    ({"group_settings": {"group_creation_allowed_group": "Nope"}}, "group_settings.group_creation_allowed_group"),
    ({"incidents": [{"name": "x", "severity": "huge"}]}, "incidents[0].severity"),
    ({"identity_health_issues": [{"name": "x", "status": "gone"}]}, "identity_health_issues[0].status"),
])
def test_the_new_scenario_fields_are_validated_with_the_field_named(patch: dict[str, Any], field: str) -> None:
    from dex_tui.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(f"field {field} ")):
        load_scenario("mdr-ready").merged(patch)
