"""The checks of today's flows: Defender Experts MDR (``--service mdr``) and Hunting's onboarding.

Pure functions of the facts and the answers, registered in ``dex_tui.checks.REGISTRY`` with the same
skipped / unknown rules as the seed checks (``checks._check``). MDR's own rule for a seed check
(cloud availability, Entra ID P1, the antivirus mode) is a variant that runs for ``mdr`` only; the
seed function keeps answering for ``xdr`` and ``hunting``. Facts: reference/mdr-today.md,
domain.md §1.3-1.12, §2; texts, severities and sources: assets/catalogue.toml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dex_tui.answers import Answers
from dex_tui.catalogue import ALL_CHECK_IDS, catalogue
from dex_tui.checks import (
    AV_MODE_LABELS,
    REGISTRY,
    SKIP_REASONS,
    CheckDef,
    CheckFn,
    _check,
    _coverage,
    _n,
    _names,
    _sku_list,
    _t,
    device_count_source,
    find_plans,
    result,
)
from dex_tui.directory_roles import GLOBAL_ADMINISTRATOR, SECURITY_ADMINISTRATOR
from dex_tui.mdr_answers import ACCESS_LEVELS, HuntingOnboarding, MdrAnswers, is_address
from dex_tui.mdr_facts import (
    SCOPED_DEVICES_GROUP,
    SCOPED_USERS_GROUP,
    TEAM_GROUP,
    DeviceGroups,
    GroupCreation,
    GroupLookups,
    HealthIssues,
    IncidentSearch,
    LicensedPlan,
)
from dex_tui.results import CheckResult, Status
from dex_tui.tenant_facts import AvModeCounts, CloudInfo, DeviceCounts, MemberOf, TenantFacts, UserCount

COVERED_PRODUCTS = (("mde_p2", "Defender for Endpoint P2"), ("mdo_p2", "Defender for Office 365 P2"),
                    ("mdi", "Defender for Identity"), ("mdca", "Defender for Cloud Apps"), ("entra_p2", "Entra ID P2"))
TEAMS_PLAN_ID = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1 (Microsoft's licensing service plan id)
LEVEL_LABELS = {"security_reader": "Security Reader (investigate incidents and guide my responses)",
                "security_operator": "Security Operator (respond directly to active threats)"}
NOT_FOR_MDR = {
    "license.mde_p2": "Defender Experts MDR accepts any one covered product; license.mdr_coverage checks them all.",
    "experts.terms": "Today's Defender Experts MDR setup has no terms step: the terms come with the purchase.",
    "experts.license": "Today's Defender Experts MDR is bought through the interest form or the account team; "
                       "there is no licence-order step.",
    "experts.roles": "Defender Experts MDR offers access levels (Security Reader and/or Security Operator), "
                     "checked by experts.access_level; there is no Security Administrator level.",
}
SKIP_REASONS["mdr"] = NOT_FOR_MDR


def _mdr(answers: Answers) -> MdrAnswers:
    return answers.mdr if answers.mdr is not None else MdrAnswers()


def _unread(facts: TenantFacts, name: str) -> str:
    failure = facts.failure(name)
    return failure.error if failure is not None else ""


def mdr_variant(check_id: str) -> Callable[[CheckFn], CheckFn]:
    """Give the seed check ``check_id`` MDR's rule: ``fn`` answers for ``mdr``, the seed one for the rest.
    ``fn`` uses only the reads the seed check declares."""

    def decorate(fn: CheckFn) -> CheckFn:
        seed = REGISTRY[check_id]
        variant = _check(check_id, seed.reads, seed.optional)(fn)

        def dispatch(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
            return (variant if service == "mdr" else seed.fn)(facts, answers, cloud, service)

        dispatch.__name__, dispatch.__doc__ = fn.__name__, fn.__doc__
        REGISTRY[check_id] = CheckDef(check_id, seed.reads, seed.optional, dispatch)
        return variant

    return decorate


# ------------------------------------------------------------------------------------ MDR's rules for seed checks


@mdr_variant("cloud.availability")
def check_cloud_availability_mdr(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Commercial clouds; GCC through MDR Plan 1 for Gov (not for FedRAMP); not GCC High, DoD or China."""
    hint = " (detected from the tenant's OpenID metadata, which is a hint)" if cloud.detected else ""
    evidence: dict[str, Any] = {"cloud": cloud.name, "cloud_label": cloud.label, "detected": cloud.detected,
                                "detected_from": cloud.source}
    if cloud.name == "gcc" and cloud.offers("mdr"):
        evidence.update({"offering": "Defender Experts MDR Plan 1 for Gov", "fedramp": False})
        return result("cloud.availability", service, Status.PASS,
                      f"Defender Experts MDR is offered in the {cloud.label} cloud{hint} as MDR Plan 1 for Gov, "
                      "for GCC customers who do not require FedRAMP: it is not offered to customers who need "
                      "FedRAMP.", evidence=evidence)
    if cloud.offers("mdr"):
        return result("cloud.availability", service, Status.PASS,
                      f"Defender Experts MDR is offered in the {cloud.label} cloud{hint}.", evidence=evidence)
    return result("cloud.availability", service, Status.FAIL,
                  f"Defender Experts MDR is not offered in the {cloud.label} cloud{hint} (only commercial clouds, "
                  "and GCC as MDR Plan 1 for Gov).", evidence=evidence)


@mdr_variant("license.entra_p1")
def check_license_entra_p1_mdr(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """MDR: Entra ID P1 is "a requirement for service eligibility": none fails, a shortfall warns."""
    skus = facts.value("subscribed_skus")
    users: UserCount = facts.value("user_count")
    found = find_plans(skus, "entra_p1")
    units = sum(sku.enabled_units for sku in {p[0].sku_id or p[0].part_number: p[0] for p in found.active}.values())
    evidence: dict[str, Any] = {"enabled_units": units, "enabled_members": users.count,
                                "members_only": users.members_only, "subscriptions": _sku_list(found.active)}
    if units == 0:
        pending = f" It is bought but not provisioned yet ({_names(found.pending)})." if found.pending else ""
        return result("license.entra_p1", service, Status.FAIL,
                      f"No active Entra ID P1 licence: it is a requirement for Defender Experts MDR eligibility."
                      f"{pending}", evidence=evidence)
    if units >= users.count:
        return result("license.entra_p1", service, Status.PASS,
                      f"Entra ID P1 is licensed: {_n(units)} units for {_n(users.count)} "
                      f"{'enabled members' if users.members_only else 'users'}.", evidence=evidence)
    if not users.members_only:
        return result("license.entra_p1", service, Status.PASS,
                      f"Entra ID P1 is licensed ({_n(units)} units); the enabled members could not be counted "
                      f"(every user was: {_n(users.count)}), so a shortfall is not shown.", evidence=evidence)
    evidence["shortfall"] = users.count - units
    return result("license.entra_p1", service, Status.WARN,
                  f"Entra ID P1 is licensed, but {_n(units)} units for {_n(users.count)} enabled members: "
                  f"{_n(users.count - units)} short.", evidence=evidence)


@mdr_variant("devices.av_mode")
def check_devices_av_mode_mdr(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """MDR: devices not in active mode are a warning that says what it costs, never a blocker."""
    av: AvModeCounts = facts.value("av_info")
    counts = {mode: av.by_mode.get(mode, 0) for mode in AV_MODE_LABELS if av.by_mode.get(mode, 0)}
    evidence: dict[str, Any] = {"devices": av.total, "by_mode": counts, "pages_read": av.pages,
                                **device_count_source(av)}
    cost = ("on those devices the experts give guided response only and take no remediation actions "
            "(products in passive mode might be non-actionable)")
    active = counts.get("active", 0)
    if av.total == 0:
        return result("devices.av_mode", service, Status.WARN,
                      "No onboarded device reports Defender Antivirus: Defender for Endpoint is not in active mode "
                      "anywhere, so coverage rests on the other licensed products.", evidence=evidence)
    if active == av.total:
        return result("devices.av_mode", service, Status.PASS,
                      f"All {_n(av.total)} devices run Defender Antivirus in active mode.", evidence=evidence)
    others = ", ".join(f"{_n(n)} {AV_MODE_LABELS[m]}" for m, n in counts.items() if m != "active")
    evidence["not_active"] = av.total - active
    return result("devices.av_mode", service, Status.WARN,
                  f"{_n(active)} of {_n(av.total)} devices run Defender Antivirus in active mode; not active: "
                  f"{others}: {cost}.", evidence=evidence)


# ------------------------------------------------------------------------------------ licences


@_check("license.mdr_coverage", reads=("subscribed_skus",))
def check_license_mdr_coverage(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """At least one of MDE P2, MDO P2, MDI, MDCA or Entra ID P2 is licensed (mdr-prerequisites)."""
    skus = facts.value("subscribed_skus")
    licensed, pending, missing = [], [], []
    evidence: dict[str, Any] = {}
    for capability, label in COVERED_PRODUCTS:
        found = find_plans(skus, capability)
        if found.licensed:
            licensed.append(label)
            evidence.setdefault("subscriptions", {})[label] = _sku_list(found.active)
        elif found.pending:
            pending.append(label)
            missing.append(label)
        else:
            missing.append(label)
    evidence.update({"licensed": licensed, "missing": missing, "bought_not_provisioned": pending})
    if licensed:
        gaps = f" Not licensed: {', '.join(missing)}." if missing else ""
        return result("license.mdr_coverage", service, Status.PASS,
                      f"Covered products licensed: {', '.join(licensed)}.{gaps}", evidence=evidence)
    extra = f" Bought but not provisioned yet: {', '.join(pending)}." if pending else ""
    return result("license.mdr_coverage", service, Status.FAIL,
                  f"None of the products Defender Experts MDR covers is licensed ({', '.join(missing)})."
                  f"{extra}", evidence=evidence)


check_license_entra_p2 = _check("license.entra_p2", reads=("subscribed_skus",))(
    _coverage("license.entra_p2", "entra_p2", "Entra ID P2", "identities (identity-based coverage)"))


# ------------------------------------------------------------------------------------ recorded choices


@_check("experts.access_level")
def check_experts_access_level(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Security Reader and/or Security Operator recorded; Operator left out lists the lost actions."""
    mdr = _mdr(answers)
    evidence: dict[str, Any] = {"verifiable_from_graph": False}
    if mdr.access_recorded is not None:
        evidence["recorded"] = mdr.access_recorded.to_dict()
    if mdr.access_levels is None:
        return result("experts.access_level", service, Status.UNKNOWN,
                      "The access level chosen on the Permissions step cannot be read from the tenant and was not "
                      "recorded: record it in the wizard or in the answers file ([mdr] access_levels).",
                      evidence=evidence)
    evidence["access_levels"] = [LEVEL_LABELS[level] for level in mdr.access_levels if level in LEVEL_LABELS]
    unknown = [level for level in mdr.access_levels if level not in ACCESS_LEVELS]
    if not mdr.access_levels or unknown:
        return result("experts.access_level", service, Status.FAIL,
                      "No valid access level is recorded: choose Security Reader and/or Security Operator.",
                      evidence=evidence)
    if mdr.operator_skipped:
        lost = catalogue().role("security_operator").lost_actions
        evidence["lost_actions"] = list(lost)
        if mdr.operator_skip_acknowledged is not None:
            evidence["acknowledged"] = mdr.operator_skip_acknowledged.to_dict()
        acked = "" if mdr.operator_skip_acknowledged is not None else " (not acknowledged)"
        return result("experts.access_level", service, Status.WARN,
                      f"Security Operator left out{acked}: the experts investigate and guide, and cannot take these "
                      f"managed-response actions themselves: {'; '.join(lost)}.", evidence=evidence)
    levels = " and ".join(LEVEL_LABELS[level].split(" (")[0] for level in mdr.access_levels)
    return result("experts.access_level", service, Status.PASS,
                  f"{levels} recorded (no API can confirm the choice).", evidence=evidence)


@_check("contacts.notification")
def check_contacts_notification(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """At least one incident-notification and one service-review contact, each a valid address."""
    contacts = _mdr(answers).contacts
    if contacts is None:
        return result("contacts.notification", service, Status.UNKNOWN,
                      "Contacts have no API and none were recorded: record them in the wizard or in the answers "
                      "file ([[mdr.contacts]]).", evidence={"verifiable_from_graph": False})
    evidence: dict[str, Any] = {"contacts": [c.to_dict() for c in contacts], "verifiable_from_graph": False}
    bad = [c.address for c in contacts if not is_address(c.address)]
    if bad:
        return result("contacts.notification", service, Status.FAIL,
                      f"Not an e-mail address: {', '.join(_t(b) for b in bad)}.", evidence=evidence)
    missing = [label for kind, label in (("incident_notification", "incident notification"),
                                         ("service_review", "service review"))
               if not any(c.kind == kind for c in contacts)]
    if missing:
        return result("contacts.notification", service, Status.WARN,
                      f"No {' or '.join(missing)} contact recorded ({len(contacts)} contact(s) in all).",
                      evidence=evidence)
    incident = sum(1 for c in contacts if c.kind == "incident_notification")
    return result("contacts.notification", service, Status.PASS,
                  f"{incident} incident-notification and {len(contacts) - incident} service-review contact(s) "
                  "recorded.", evidence=evidence)


# ------------------------------------------------------------------------------------ exclusions, Teams, scope


@_check("exclusions.groups", optional=("device_groups", "mdr_groups"))
def check_exclusions_groups(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Each recorded device group exists in MDE; each user group exists, is a security group, is cloud-only."""
    mdr = _mdr(answers)
    devices_wanted, users_wanted = mdr.exclusion_device_groups, mdr.exclusion_user_groups
    if devices_wanted is None and users_wanted is None:
        return result("exclusions.groups", service, Status.INFO,
                      "No exclusions recorded (optional): the experts act on every device and user.",
                      evidence={"recorded": False})
    problems: list[str] = []
    unknowns: list[str] = []
    rows: list[dict[str, Any]] = []
    device_groups: DeviceGroups | None = facts.get("device_groups")
    for name in devices_wanted or ():
        row: dict[str, Any] = {"kind": "device group", "name": _t(name)}
        if device_groups is None or not device_groups.looked_up:
            row["state"] = "not read"
            why = _unread(facts, "device_groups") or "read again to look it up"
            unknowns.append(f"device group {_t(name)} ({why})")
        elif device_groups.find(name) is None:
            row["state"] = "missing"
            problems.append(f"no Defender for Endpoint device group named {_t(name)}")
        else:
            row.update(state="exists", devices=device_groups.by_name[device_groups.find(name) or name])
        rows.append(row)
    lookups: GroupLookups | None = facts.get("mdr_groups")
    for name in users_wanted or ():
        row = {"kind": "user group", "name": _t(name)}
        groups = lookups.groups(name) if lookups is not None else None
        if groups is None:
            row["state"] = "not read"
            why = lookups.failures.get(name, "") if lookups is not None else _unread(facts, "mdr_groups")
            unknowns.append(f"user group {_t(name)} ({why or 'not looked up'})")
        elif not groups:
            row["state"] = "missing"
            problems.append(f"no Entra group named {_t(name)}")
        elif not any(g.security_enabled for g in groups):
            row["state"] = "not a security group"
            problems.append(f"{_t(name)} is not a security group")
        elif all(g.synced for g in groups if g.security_enabled):
            row["state"] = "synced from on-premises"
            problems.append(f"{_t(name)} is synchronised from on-premises Active Directory, and on-premises users "
                            "cannot be excluded")
        else:
            row["state"] = "exists (cloud security group)"
        rows.append(row)
    evidence = {"groups": rows, "recorded": True}
    if problems:
        return result("exclusions.groups", service, Status.FAIL, f"Exclusions that cannot work: {'; '.join(problems)}.",
                      evidence=evidence)
    if unknowns:
        return result("exclusions.groups", service, Status.UNKNOWN,
                      f"Could not be checked: {'; '.join(unknowns)}.", evidence=evidence)
    if not rows:
        return result("exclusions.groups", service, Status.INFO,
                      "Exclusions recorded as none: the experts act on every device and user.", evidence=evidence)
    return result("exclusions.groups", service, Status.PASS,
                  f"Every recorded exclusion group exists ({len(rows)}): device groups in Defender for Endpoint, "
                  "user groups as cloud security groups.", evidence=evidence)


@_check("teams.ready", optional=("group_settings", "member_of", "license_details", "mdr_groups"))
def check_teams_ready(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Group creation allowed for the operator, Security Administrator or higher, a Teams licence; the team."""
    mdr = _mdr(answers)
    if mdr.teams is not True:
        chosen = "not recorded" if mdr.teams is None else "not chosen"
        return result("teams.ready", service, Status.INFO,
                      f"Teams is {chosen} (optional): the experts reach your contacts by e-mail, phone and the "
                      "incident chat.", evidence={"teams_chosen": mdr.teams})
    failed: list[str] = []
    warned: list[str] = []
    unknowns: list[str] = []
    evidence: dict[str, Any] = {"teams_chosen": True}
    creation: GroupCreation | None = facts.get("group_settings")
    if creation is None:
        unknowns.append(f"group creation ({_unread(facts, 'group_settings')})")
    else:
        evidence["group_creation"] = {"setting_found": creation.setting_found, "enabled": creation.enabled,
                                      "allowed_group_id": creation.allowed_group_id,
                                      "operator_in_allowed_group": creation.operator_in_allowed_group}
        if creation.operator_may_create is False:
            failed.append("Microsoft 365 group creation is turned off (EnableGroupCreation = false)"
                          + (" and you are not in the group allowed to create groups"
                             if creation.allowed_group_id else ""))
    member_of: MemberOf | None = facts.get("member_of")
    if member_of is None:
        unknowns.append(f"your roles ({_unread(facts, 'member_of')})")
    else:
        ids = {role.template_id for role in member_of.roles}
        evidence["security_administrator_or_higher"] = bool(ids & {SECURITY_ADMINISTRATOR, GLOBAL_ADMINISTRATOR})
        if not evidence["security_administrator_or_higher"]:
            failed.append("you hold neither Security Administrator nor Global Administrator")
    plans: tuple[LicensedPlan, ...] | None = facts.get("license_details")
    if plans is None:
        unknowns.append(f"your Teams licence ({_unread(facts, 'license_details')})")
    else:
        teams = [p for p in plans if p.plan_id == TEAMS_PLAN_ID and p.status == "Success"]
        evidence["teams_licence"] = sorted({_t(p.sku) for p in teams})
        if not teams:
            warned.append("no Teams licence (service plan TEAMS1) is assigned to you")
    lookups: GroupLookups | None = facts.get("mdr_groups")
    team = lookups.groups(TEAM_GROUP) if lookups is not None else None
    evidence["team_exists"] = None if team is None else bool(team)
    if failed:
        return result("teams.ready", service, Status.FAIL,
                      f"The Teams channel cannot be set up: {'; '.join(failed + warned)}.", evidence=evidence)
    if team and not warned:
        return result("teams.ready", service, Status.PASS,
                      f"The {TEAM_GROUP} exists, and its preconditions hold.", evidence=evidence)
    if mdr.teams_recorded is not None and team is not None and not team:
        warned.append(f"Teams was recorded as set up, but no group named {TEAM_GROUP} exists")
    if warned:
        return result("teams.ready", service, Status.WARN, f"Teams may fail: {'; '.join(warned)}.",
                      evidence=evidence)
    if unknowns:
        return result("teams.ready", service, Status.UNKNOWN, f"Could not be checked: {'; '.join(unknowns)}.",
                      evidence=evidence)
    return result("teams.ready", service, Status.PASS,
                  f"Group creation is allowed for you, you hold Security Administrator or higher and a Teams "
                  f"licence; the {TEAM_GROUP} does not exist yet (Communicate on Teams creates it).", evidence=evidence)


@_check("coverage.scoped", optional=("device_groups", "mdr_groups"))
def check_coverage_scoped(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """The exact-name scoped-coverage groups exist; the user group has no nested groups."""
    if _mdr(answers).scoped_coverage is not True:
        chosen = "not recorded" if _mdr(answers).scoped_coverage is None else "not chosen"
        return result("coverage.scoped", service, Status.INFO,
                      f"Scoped coverage is {chosen} (optional): the experts cover the whole tenant.",
                      evidence={"scoped_coverage": _mdr(answers).scoped_coverage})
    problems: list[str] = []
    unknowns: list[str] = []
    evidence: dict[str, Any] = {"scoped_coverage": True}
    device_groups: DeviceGroups | None = facts.get("device_groups")
    devices_found = False
    if device_groups is None or not device_groups.looked_up:
        unknowns.append(f"the device group ({_unread(facts, 'device_groups') or 'read again to look it up'})")
    else:
        spelled = device_groups.find(SCOPED_DEVICES_GROUP)
        evidence["device_group"] = spelled
        if spelled is not None and spelled != SCOPED_DEVICES_GROUP:
            problems.append(f"the device group is named {_t(spelled)}, not exactly {SCOPED_DEVICES_GROUP}")
        devices_found = spelled == SCOPED_DEVICES_GROUP
    lookups: GroupLookups | None = facts.get("mdr_groups")
    users_found = False
    groups = lookups.groups(SCOPED_USERS_GROUP) if lookups is not None else None
    if lookups is None or groups is None:
        unknowns.append(f"the user group ({_unread(facts, 'mdr_groups') or 'not looked up'})")
    elif groups:
        users_found = True
        evidence["user_group"] = [g.id for g in groups]
        for group in groups:
            if group.id in lookups.nested_failures:
                unknowns.append(f"the user group's members ({lookups.nested_failures[group.id]})")
            nested = lookups.nested.get(group.id, ())
            if nested:
                evidence["nested_groups"] = [_t(n) for n in nested]
                problems.append(f"{SCOPED_USERS_GROUP} has nested groups ({', '.join(_t(n) for n in nested)}), "
                                "which scoped coverage does not support")
    if not problems and not unknowns and not devices_found and not users_found:
        problems.append(f"neither {SCOPED_DEVICES_GROUP} (a Defender for Endpoint device group with devices) nor "
                        f"{SCOPED_USERS_GROUP} (an Entra group) exists")
    if problems:
        return result("coverage.scoped", service, Status.FAIL, f"Scoped coverage will not work: {'; '.join(problems)}.",
                      evidence=evidence)
    if unknowns:
        return result("coverage.scoped", service, Status.UNKNOWN, f"Could not be checked: {'; '.join(unknowns)}.",
                      evidence=evidence)
    present = [name for name, found in ((SCOPED_DEVICES_GROUP, devices_found), (SCOPED_USERS_GROUP, users_found))
               if found]
    return result("coverage.scoped", service, Status.PASS,
                  f"Scoped coverage groups in place: {', '.join(present)}; the device group must also be first in "
                  "priority order, which the API does not show.", evidence=evidence)


# ------------------------------------------------------------------------------------ readiness


@_check("readiness.protected_assets", optional=("machines", "subscribed_skus", "identity_health"))
def check_readiness_protected_assets(facts: TenantFacts, answers: Answers, cloud: CloudInfo,
                                     service: str) -> CheckResult:
    """Onboarded devices against Defender for Endpoint seats; open Defender for Identity health issues."""
    evidence: dict[str, Any] = {}
    gaps: list[str] = []
    parts: list[str] = []
    unknowns: list[str] = []
    devices: DeviceCounts | None = facts.get("machines")
    skus = facts.get("subscribed_skus")
    if devices is None or skus is None:
        unknowns.append(f"devices against seats ({_unread(facts, 'machines') or _unread(facts, 'subscribed_skus')})")
    else:
        found = find_plans(skus, "mde_p2")
        seats = sum(sku.enabled_units for sku in {p[0].sku_id or p[0].part_number: p[0] for p in found.active}.values())
        evidence.update({"onboarded_devices": devices.onboarded, "mde_p2_seats": seats})
        parts.append(f"{_n(devices.onboarded)} onboarded devices for {_n(seats)} Defender for Endpoint P2 seats")
        if seats and devices.onboarded < seats:
            gaps.append(f"{_n(seats - devices.onboarded)} seats without an onboarded device")
    health: HealthIssues | None = facts.get("identity_health")
    if health is None:
        unknowns.append(f"Defender for Identity health ({_unread(facts, 'identity_health')})")
    else:
        evidence["identity_health_open"] = dict(health.open_by_severity)
        evidence["identity_health_examples"] = [_t(e) for e in health.examples]
        if health.total_open:
            by = ", ".join(f"{_n(health.open_by_severity[s])} {s}" for s in ("high", "medium", "low", "other")
                           if health.open_by_severity.get(s))
            gaps.append(f"{_n(health.total_open)} open Defender for Identity health issue(s) ({by})")
        else:
            parts.append("no open Defender for Identity health issue")
    if gaps:
        return result("readiness.protected_assets", service, Status.WARN,
                      f"Readiness gaps: {'; '.join(gaps)}." + (f" {'; '.join(parts)}." if parts else ""),
                      evidence=evidence)
    if unknowns and not parts:
        return result("readiness.protected_assets", service, Status.UNKNOWN,
                      f"Could not be evaluated: {'; '.join(unknowns)}.", evidence=evidence)
    if unknowns:
        return result("readiness.protected_assets", service, Status.UNKNOWN,
                      f"{'; '.join(parts)}; not read: {'; '.join(unknowns)}.", evidence=evidence)
    return result("readiness.protected_assets", service, Status.PASS, f"{'; '.join(parts)}.", evidence=evidence)


# ------------------------------------------------------------------------------------ Hunting's onboarding


def _hunting(answers: Answers) -> HuntingOnboarding:
    return answers.hunting if answers.hunting is not None else HuntingOnboarding()


@_check("hunting.sample_notification", optional=("incidents",))
def check_hunting_sample_notification(facts: TenantFacts, answers: Answers, cloud: CloudInfo,
                                      service: str) -> CheckResult:
    """After the operator records sending the sample notification, its test incident is in security/incidents."""
    onboarding = _hunting(answers)
    evidence: dict[str, Any] = {}
    if onboarding.contacts is not None:
        evidence["contacts"] = [c.to_dict() for c in onboarding.contacts]
    contact_gap = ""
    if onboarding.contacts is not None and not any(c.kind == "primary" for c in onboarding.contacts):
        contact_gap = " No primary notification contact is recorded."
    if onboarding.sample_notification is None:
        return result("hunting.sample_notification", service, Status.INFO,
                      "No sample notification recorded as sent yet: send one from Settings > Defender Experts > "
                      f"Sample notifications, then record it.{contact_gap}", evidence=evidence)
    evidence["sent"] = onboarding.sample_notification.to_dict()
    search: IncidentSearch | None = facts.get("incidents")
    if search is None:
        return result("hunting.sample_notification", service, Status.UNKNOWN,
                      f"Could not search the incidents: {_unread(facts, 'incidents')}", evidence=evidence)
    evidence.update({"incidents_scanned": search.scanned, "all_scanned": search.complete,
                     "matches": [{k: _t(v) for k, v in m.items()} for m in search.matches]})
    if search.matches:
        first = search.matches[0]
        status = Status.WARN if contact_gap else Status.PASS
        return result("hunting.sample_notification", service, status,
                      f"The test incident arrived: {_t(first['title'])} (incident {_t(first['id'])}, "
                      f"{_t(first['created'])}).{contact_gap}", evidence=evidence)
    if not search.complete:
        return result("hunting.sample_notification", service, Status.UNKNOWN,
                      f"The test incident is not among the {_n(search.scanned)} most recent incidents; older ones "
                      "were not searched.", evidence=evidence)
    return result("hunting.sample_notification", service, Status.FAIL,
                  f"Recorded as sent by {_t(onboarding.sample_notification.by)}, but no incident titled "
                  f"'Defender Experts: Test Notification…' is among the {_n(search.scanned)} incidents.{contact_gap}",
                  evidence=evidence)


assert set(REGISTRY) == set(ALL_CHECK_IDS), "every catalogue check needs a function"
