"""The live checks: pure functions of the tenant facts, the operator's answers, the cloud and the service.

Each public ``check_*`` function has the signature ``(facts, answers, cloud, service) -> CheckResult``
and never touches the network. Three rules are applied the same way to all of them (``_check``):
a check that does not apply to the chosen service is ``skipped`` with why; a check whose read failed is
``unknown`` with that read's precise reason; otherwise the check's own logic decides. Titles, sources,
notes and default remediation come from ``assets/catalogue.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from dex_tui.answers import ROLE_KEYS, Acknowledgement, Answers, Confirmation
from dex_tui.catalogue import ALL_CHECK_IDS, CHECK_IDS, catalogue, check_ids_for
from dex_tui.directory_roles import GLOBAL_ADMINISTRATOR, SECURITY_ADMINISTRATOR
from dex_tui.records import dataclass
from dex_tui.results import CheckResult, Remediation, Status
from dex_tui.safety import clean_text
from dex_tui.tenant_facts import (
    AvModeCounts,
    CaPolicies,
    CloudInfo,
    DeviceCounts,
    MemberOf,
    Organization,
    Partner,
    ReadResult,
    Sku,
    TenantFacts,
    TenantName,
    TenantNames,
    UserCount,
)

SERVICE_NAMES = {"xdr": "Defender Experts for XDR", "hunting": "Defender Experts for Hunting",
                 "mdr": "Defender Experts MDR"}
# EU Data Boundary: the EU member states and the EFTA countries.
EU_DATA_BOUNDARY = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO CH".split())
AV_MODE_LABELS = {"active": "active", "passive": "passive", "passive_audit": "passive (audit)",
                  "edr_blocked": "EDR in block mode", "disabled": "disabled", "other": "other or unknown"}
NOT_FOR_HUNTING = {
    "license.entra_p1": "Entra ID P1 is not a Defender Experts for Hunting prerequisite.",
    "experts.roles": "Defender Experts for Hunting has no expert access levels to grant: its onboarding has no "
                     "Manage permissions step.",
    "access.service_provider": "Defender Experts for Hunting does not use service provider (cross-tenant) access.",
    "access.conditional_access": "Defender Experts for Hunting does not use service provider access, so no "
                                 "Microsoft Security Experts conditional access policies are created.",
}
# Why a check does not apply, per service (dex_tui.mdr_checks adds MDR's).
SKIP_REASONS: dict[str, dict[str, str]] = {"hunting": NOT_FOR_HUNTING}

CheckFn = Callable[[TenantFacts, Answers, CloudInfo, str], CheckResult]


@dataclass(frozen=True)
class CheckDef:
    """A check: its id, the reads it cannot do without, the reads it uses when present, its function."""

    id: str
    reads: tuple[str, ...]
    optional: tuple[str, ...]
    fn: CheckFn


REGISTRY: dict[str, CheckDef] = {}


def _t(value: Any) -> str:
    """A tenant-supplied string made safe to carry in a result (escaping is each renderer's job)."""
    return clean_text(value)


def _n(number: int) -> str:
    return f"{number:,}"


def result(check_id: str, service: str, status: Status, summary: str, *, evidence: dict[str, Any] | None = None,
           remediation: Remediation | None = None, note: str | None = None) -> CheckResult:
    """A result with the catalogue's title, services, severity, group, source and note for ``check_id``.

    Remediation defaults to the catalogue's for ``fail``/``warn``/``unknown`` and to nothing otherwise.
    """
    info = catalogue().check(check_id)
    if remediation is None:
        remediation = info.remediation if status in (Status.FAIL, Status.WARN, Status.UNKNOWN) else Remediation()
    return CheckResult(id=check_id, title=info.title_for(service), services=info.services, severity=info.severity_for(service),
                       status=status, summary=summary, group=info.group, evidence=evidence or {},
                       remediation=remediation, source=info.source_for(service),
                       note=info.note_for(service) if note is None else note)


def unknown_from(check_id: str, service: str, failure: ReadResult) -> CheckResult:
    """``unknown`` because a read failed: the reason, the endpoint, and the missing permission if any."""
    evidence: dict[str, Any] = {"read": failure.name, "reason": failure.error}
    if failure.endpoint:
        evidence["endpoint"] = failure.endpoint
    if failure.status is not None:
        evidence["status"] = failure.status
    if failure.permission:
        evidence["missing_permission"] = failure.permission
    return result(check_id, service, Status.UNKNOWN, f"Could not be evaluated: {failure.error}",
                  evidence=evidence, remediation=Remediation(action=failure.error))


def _check(check_id: str, reads: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Callable[[CheckFn], CheckFn]:
    """Register a check and wrap it with the skipped / unknown rules shared by every check."""

    def decorate(fn: CheckFn) -> CheckFn:
        def check(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
            info = catalogue().check(check_id)
            if service not in info.services:
                why = SKIP_REASONS.get(service, {}).get(check_id, f"Not part of {SERVICE_NAMES[service]}.")
                return result(check_id, service, Status.SKIPPED, f"Skipped for {SERVICE_NAMES[service]}: {why}")
            for name in reads:
                failure = facts.failure(name)
                if failure is not None:
                    return unknown_from(check_id, service, failure)
            return fn(facts, answers, cloud, service)

        check.__name__ = fn.__name__
        check.__doc__ = fn.__doc__
        REGISTRY[check_id] = CheckDef(check_id, reads, optional, check)
        return check

    return decorate


def evaluate(facts: TenantFacts, answers: Answers, service: str | None = None,
             ids: Iterable[str] | None = None) -> list[CheckResult]:
    """Every check (or ``ids``) in the stable catalogue order, from facts alone (no network)."""
    service = service or answers.service
    wanted = set(check_ids_for(service) if ids is None else ids)
    return [REGISTRY[i].fn(facts, answers, facts.cloud, service) for i in ALL_CHECK_IDS if i in wanted]


def reads_for(ids: Iterable[str]) -> set[str]:
    """The reads (required and optional) the given checks use."""
    names: set[str] = set()
    for check_id in ids:
        names.update(REGISTRY[check_id].reads, REGISTRY[check_id].optional)
    return names


# ------------------------------------------------------------------------------------ cloud & operator


@_check("cloud.availability")
def check_cloud_availability(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """XDR is sold in commercial clouds only; Hunting in commercial clouds and GCC (§1.10, §2.4)."""
    hint = " (detected from the tenant's OpenID metadata, which is a hint)" if cloud.detected else ""
    evidence = {"cloud": cloud.name, "cloud_label": cloud.label, "detected": cloud.detected,
                "detected_from": cloud.source}
    name = SERVICE_NAMES[service]
    if cloud.offers(service):
        extra = " as Defender Experts Hunting for Gov (for GCC customers who do not need FedRAMP)" \
            if service == "hunting" and cloud.name == "gcc" else ""
        return result("cloud.availability", service, Status.PASS,
                      f"{name} is offered in the {cloud.label} cloud{hint}{extra}.", evidence=evidence)
    other = "hunting" if service == "xdr" else "xdr"
    alternative = f" {SERVICE_NAMES[other]} is." if cloud.offers(other) else ""
    return result("cloud.availability", service, Status.FAIL,
                  f"{name} is not offered in the {cloud.label} cloud{hint}.{alternative}", evidence=evidence)


@_check("operator.roles", reads=("member_of",), optional=("me",))
def check_operator_roles(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """The operator needs Security Administrator or higher for Give access and Teams (§1.4, §6.8)."""
    member_of: MemberOf = facts.value("member_of")
    ids = {role.template_id for role in member_of.roles}
    names = sorted(_t(role.display_name) or role.template_id for role in member_of.roles)
    evidence: dict[str, Any] = {"roles": names, "includes_group_roles": member_of.transitive}
    operator = facts.get("me")
    if operator is not None:
        evidence["operator"] = _t(operator.user_principal_name or operator.display_name)
    if GLOBAL_ADMINISTRATOR in ids:
        return result("operator.roles", service, Status.PASS,
                      "You are a Global Administrator: you can do every Defender Experts setup step.",
                      evidence=evidence)
    if SECURITY_ADMINISTRATOR in ids:
        return result("operator.roles", service, Status.PASS,
                      "You are a Security Administrator: enough to give access and set up Teams; a few steps "
                      "(notification contacts) may need a Global Administrator.", evidence=evidence)
    held = ", ".join(names) if names else "no directory role"
    task = {"xdr": "give the experts access", "mdr": "give the experts access and set up Teams"}.get(
        service, "set up notification contacts and Teams")
    return result("operator.roles", service, Status.WARN,
                  f"You hold {held}, neither Security Administrator nor Global Administrator: a colleague who "
                  f"does must {task}.", evidence=evidence)


# ------------------------------------------------------------------------------------ licences


@dataclass(frozen=True)
class PlanFinding:
    """Where a capability's service plans appear in the tenant's subscriptions."""

    active: tuple[tuple[Sku, str], ...]  # (sku, plan name) usable and provisioned (Success)
    pending: tuple[tuple[Sku, str, str], ...]  # usable SKU, plan with another provisioning status
    inactive: tuple[tuple[Sku, str], ...]  # the plan is in a SKU that is suspended, deleted or without units

    @property
    def licensed(self) -> bool:
        return bool(self.active)


def find_plans(skus: Iterable[Sku], capability: str) -> PlanFinding:
    """The check recipe of domain.md §4.2, by service plan id (plans appear in bundles)."""
    plan_ids = catalogue().plan_ids(capability)
    active, pending, inactive = [], [], []
    for sku in skus:
        for plan in sku.plans:
            if plan.id not in plan_ids:
                continue
            name = plan.name or plan_ids[plan.id]
            if not sku.usable:
                inactive.append((sku, name))
            elif plan.status == "Success":
                active.append((sku, name))
            else:
                pending.append((sku, name, plan.status))
    return PlanFinding(tuple(active), tuple(pending), tuple(inactive))


def _sku_list(pairs: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        sku, plan = pair[0], pair[1]
        entry = seen.setdefault(sku.sku_id or sku.part_number, {
            "sku": _t(sku.part_number), "status": sku.capability_status, "enabled_units": sku.enabled_units,
            "plans": []})
        label = plan if len(pair) < 3 else f"{plan} ({pair[2]})"
        if label not in entry["plans"]:
            entry["plans"].append(label)
    return list(seen.values())


def _names(pairs: Iterable[tuple[Any, ...]]) -> str:
    return ", ".join(sorted({f"{_t(p[0].part_number)} ({_n(p[0].enabled_units)} units)" for p in pairs}))


@_check("license.mde_p2", reads=("subscribed_skus",))
def check_license_mde_p2(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    skus = facts.value("subscribed_skus")
    found = find_plans(skus, "mde_p2")
    evidence: dict[str, Any] = {"service_plan": "WINDEFATP", "subscriptions": _sku_list(found.active)}
    if found.licensed:
        return result("license.mde_p2", service, Status.PASS,
                      f"Defender for Endpoint P2 is licensed: {_names(found.active)}.", evidence=evidence)
    if found.pending:
        evidence["subscriptions"] = _sku_list(found.pending)
        states = ", ".join(sorted({p[2] or "unknown" for p in found.pending}))
        return result("license.mde_p2", service, Status.WARN,
                      f"Defender for Endpoint P2 is bought ({_names(found.pending)}) but its service plan is not "
                      f"provisioned yet ({states}).", evidence=evidence)
    lesser = find_plans(skus, "mde_lesser")
    if lesser.licensed:
        evidence["lesser_plans"] = _sku_list(lesser.active)
        plans = ", ".join(sorted({p[1] for p in lesser.active}))
        return result("license.mde_p2", service, Status.FAIL,
                      f"Only {plans} (Defender for Endpoint P1 or Defender for Business) is licensed; Defender "
                      "Experts needs Defender for Endpoint P2.", evidence=evidence)
    if found.inactive:
        evidence["inactive_subscriptions"] = _sku_list(found.inactive)
        return result("license.mde_p2", service, Status.FAIL,
                      f"Defender for Endpoint P2 is only in subscriptions that are not active: "
                      f"{_names(found.inactive)}.", evidence=evidence)
    return result("license.mde_p2", service, Status.FAIL,
                  f"No active subscription carries Defender for Endpoint P2 ({_n(len(skus))} subscriptions read).",
                  evidence=evidence)


@_check("license.entra_p1", reads=("subscribed_skus", "user_count"))
def check_license_entra_p1(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Enabled units of subscriptions carrying Entra ID P1 (or P2, which includes it) vs the enabled member
    accounts. The seed requires P1 for all users: any shortfall fails the blocker."""
    skus = facts.value("subscribed_skus")
    users: UserCount = facts.value("user_count")
    found = find_plans(skus, "entra_p1")
    units = sum(sku.enabled_units for sku in {pair[0].sku_id or pair[0].part_number: pair[0]
                                               for pair in found.active}.values())
    who = ("enabled members" if users.members_only
           else "users (members, guests and disabled accounts: the enabled-member filter was refused)")
    evidence: dict[str, Any] = {"enabled_units": units, "users_needing_p1": users.count,
                                "members_only": users.members_only, "subscriptions": _sku_list(found.active),
                                "entra_p2": find_plans(skus, "entra_p2").licensed}
    if units == 0:
        pending = f" It is bought but not provisioned yet ({_names(found.pending)})." if found.pending else ""
        return result("license.entra_p1", service, Status.FAIL,
                      f"No active Entra ID P1 licence for {_n(users.count)} {who}.{pending}", evidence=evidence)
    if units >= users.count:
        return result("license.entra_p1", service, Status.PASS,
                      f"{_n(units)} Entra ID P1 units cover {_n(users.count)} {who}.", evidence=evidence)
    evidence["shortfall"] = users.count - units
    if not users.members_only:  # guests and disabled accounts were counted too: a shortfall is not shown
        return result("license.entra_p1", service, Status.UNKNOWN,
                      f"{_n(units)} Entra ID P1 units for {_n(users.count)} {who}: the enabled members "
                      "could not be counted, so whether every one is licensed is not known.", evidence=evidence)
    return result("license.entra_p1", service, Status.FAIL,
                  f"{_n(units)} Entra ID P1 units for {_n(users.count)} {who}: {_n(users.count - units)} short. "
                  "Entra ID P1 is required for all users.", evidence=evidence)


def _coverage(check_id: str, capability: str, product: str, covers: str, lesser: str | None = None) -> CheckFn:
    def check(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
        skus = facts.value("subscribed_skus")
        found = find_plans(skus, capability)
        evidence: dict[str, Any] = {"subscriptions": _sku_list(found.active)}
        if found.licensed:
            return result(check_id, service, Status.PASS,
                          f"{product} is licensed in {_names(found.active)}: the experts also cover {covers}.",
                          evidence=evidence)
        if found.pending:
            evidence["subscriptions"] = _sku_list(found.pending)
            return result(check_id, service, Status.INFO,
                          f"{product} is bought but not provisioned yet ({_names(found.pending)}).",
                          evidence=evidence, remediation=catalogue().check(check_id).remediation)
        extra = ""
        if lesser:
            other = find_plans(skus, lesser)
            if other.licensed:
                plans = ", ".join(sorted({p[1] for p in other.active}))
                evidence["lesser_plans"] = _sku_list(other.active)
                extra = f" ({plans} is licensed, which does not count)"
        return result(check_id, service, Status.INFO,
                      f"{product} is not licensed{extra}: the experts will not cover {covers}.",
                      evidence=evidence, remediation=catalogue().check(check_id).remediation)

    check.__name__ = f"check_{check_id.replace('.', '_')}"
    return check


check_license_mdo_p2 = _check("license.mdo_p2", reads=("subscribed_skus",))(
    _coverage("license.mdo_p2", "mdo_p2", "Defender for Office 365 P2", "email and collaboration", "mdo_p1"))
check_license_mdi = _check("license.mdi", reads=("subscribed_skus",))(
    _coverage("license.mdi", "mdi", "Defender for Identity", "on-premises identities"))
check_license_mdca = _check("license.mdca", reads=("subscribed_skus",))(
    _coverage("license.mdca", "mdca", "Defender for Cloud Apps", "cloud apps", "mdca_lesser"))


@_check("coverage.iot", reads=("subscribed_skus",))
def check_coverage_iot(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    found = find_plans(facts.value("subscribed_skus"), "iot")
    evidence = {"subscriptions": _sku_list(found.active)}
    if found.licensed:
        return result("coverage.iot", service, Status.INFO,
                      f"Defender for IoT is licensed in {_names(found.active)}, but Defender Experts does not cover "
                      "it: IoT alerts stay with your team.", evidence=evidence)
    return result("coverage.iot", service, Status.INFO,
                  "Defender for IoT is not licensed; Defender Experts would not cover it anyway.", evidence=evidence)


# ------------------------------------------------------------------------------------ devices


def device_count_source(counts: DeviceCounts | AvModeCounts) -> dict[str, str]:
    """How the devices were counted, for the evidence: by advanced hunting, or by paging the MDE API
    (and then why hunting was not used)."""
    if counts.source == "hunting":
        how = ("advanced hunting (DeviceInfo, latest state per device)" if isinstance(counts, DeviceCounts) else
               "onboarded devices by advanced hunting, less those /api/deviceavinfo lists as not in active mode")
        return {"counted_by": how}
    return {"counted_by": "paging the Defender for Endpoint API",
            **({"hunting_not_used": _t(counts.hunting_problem)} if counts.hunting_problem else {})}


@_check("devices.onboarded", reads=("machines",))
def check_devices_onboarded(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    devices: DeviceCounts = facts.value("machines")
    evidence: dict[str, Any] = {"onboarded": devices.onboarded, "by_health_status": dict(devices.by_health),
                                "pages_read": devices.pages, **device_count_source(devices)}
    if devices.no_recent_machines:
        evidence["api_answer"] = "404: no recent machines"
    if devices.onboarded == 0:
        return result("devices.onboarded", service, Status.FAIL,
                      "No device is onboarded to Defender for Endpoint.", evidence=evidence)
    health = ", ".join(f"{_t(k)} {_n(v)}" for k, v in sorted(devices.by_health.items(), key=lambda kv: -kv[1]))
    active = devices.by_health.get("Active", 0)
    if active == 0:
        return result("devices.onboarded", service, Status.WARN,
                      f"{_n(devices.onboarded)} devices are onboarded but none reports as active ({health}).",
                      evidence=evidence)
    return result("devices.onboarded", service, Status.PASS,
                  f"{_n(devices.onboarded)} devices are onboarded to Defender for Endpoint ({health}).",
                  evidence=evidence)


@_check("devices.av_mode", reads=("av_info",))
def check_devices_av_mode(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Fail when no device is in active mode; warn with counts per mode when some are not (§4.15)."""
    av: AvModeCounts = facts.value("av_info")
    counts = {mode: av.by_mode.get(mode, 0) for mode in AV_MODE_LABELS if av.by_mode.get(mode, 0)}
    evidence: dict[str, Any] = {"devices": av.total, "by_mode": counts, "pages_read": av.pages,
                                **device_count_source(av)}
    active = counts.get("active", 0)
    if av.total == 0:
        return result("devices.av_mode", service, Status.FAIL,
                      "No onboarded device reports Defender Antivirus, so none runs in active mode.", evidence=evidence)
    others = ", ".join(f"{_n(n)} {AV_MODE_LABELS[m]}" for m, n in counts.items() if m != "active")
    if active == 0:
        return result("devices.av_mode", service, Status.FAIL,
                      f"No device runs Defender Antivirus in active mode ({others}).", evidence=evidence)
    if active == av.total:
        return result("devices.av_mode", service, Status.PASS,
                      f"All {_n(av.total)} devices run Defender Antivirus in active mode.", evidence=evidence)
    consequence = (" Today's documents say the experts then guide instead of remediating on those devices."
                   if service == "xdr" else "")
    return result("devices.av_mode", service, Status.WARN,
                  f"{_n(active)} of {_n(av.total)} devices run Defender Antivirus in active mode; not active: "
                  f"{others}.{consequence}", evidence=evidence)


# ------------------------------------------------------------------------------------ the operator's confirmations


def _confirmed(confirmation: Confirmation | Acknowledgement) -> dict[str, Any]:
    return {"confirmed_by": _t(confirmation.by), "confirmed_at": confirmation.at, "verifiable_from_graph": False}


@_check("experts.terms")
def check_experts_terms(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Cannot be read from the tenant: the operator's recorded confirmation is the evidence."""
    if answers.terms is not None:
        return result("experts.terms", service, Status.PASS,
                      f"Terms accepted by {_t(answers.terms.by)} at {answers.terms.at}, as recorded by the operator "
                      "(no API can confirm it).", evidence=_confirmed(answers.terms))
    return result("experts.terms", service, Status.UNKNOWN,
                  "Cannot be read from the tenant, and nobody recorded accepting the terms: confirm it in the "
                  "wizard or in the answers file.", evidence={"verifiable_from_graph": False})


def licence_hints(skus: Iterable[Sku]) -> list[str]:
    """Part numbers that merely look like a Defender Experts SKU (none is published: a hint only)."""
    return sorted({_t(s.part_number) for s in skus if "EXPERT" in s.part_number.upper() and s.usable})


@_check("experts.license", optional=("subscribed_skus",))
def check_experts_license(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Cannot be read with certainty: the recorded confirmation is the evidence; an EXPERT SKU a hint."""
    evidence: dict[str, Any] = {"verifiable_from_graph": False}
    if facts.has("subscribed_skus"):
        hints = licence_hints(facts.value("subscribed_skus"))
        evidence["hint_subscriptions"] = hints
        hint = (f" A subscription named {', '.join(hints)} looks like Defender Experts (a hint only: Microsoft "
                "publishes no part number).") if hints else ""
    else:
        failure = facts.failure("subscribed_skus")
        evidence["hint_unavailable"] = failure.error if failure else ""
        hint = ""
    if answers.license is not None:
        evidence.update(_confirmed(answers.license))
        return result("experts.license", service, Status.PASS,
                      f"Licence order confirmed by {_t(answers.license.by)} at {answers.license.at} (recorded by the "
                      f"operator; the purchase cannot be read with certainty).{hint}", evidence=evidence)
    return result("experts.license", service, Status.UNKNOWN,
                  "The Defender Experts purchase cannot be read with certainty and nobody recorded the order: "
                  f"confirm it in the wizard or in the answers file.{hint}", evidence=evidence)


@_check("experts.roles")
def check_experts_roles(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    """Security reader is required; each skipped optional role is a warning naming what is lost (§1.5)."""
    roles = catalogue().roles
    operator, administrator = (answers.roles.get("security_operator"), answers.roles.get("security_administrator"))
    evidence: dict[str, Any] = {
        "security_reader": "granted (required)",
        "security_operator": {True: "granted", False: "skipped", None: "not recorded"}[operator],
        "security_administrator": {True: "granted", False: "skipped", None: "not recorded"}[administrator],
        "verifiable_from_graph": False,
    }
    acks = {key: _confirmed(value) for key, value in answers.acknowledgements.items() if key in ROLE_KEYS}
    if acks:
        evidence["acknowledgements"] = acks
    parts: list[str] = []
    if operator is False:
        evidence["lost_actions"] = list(roles["security_operator"].lost_actions)
        acked = "" if "skip_security_operator" in answers.acknowledgements else " (not acknowledged)"
        parts.append(f"Security operator skipped{acked}: the experts cannot take these response actions themselves: "
                     f"{'; '.join(roles['security_operator'].lost_actions)}.")
    admin = roles["security_administrator"]
    if administrator is False:
        evidence["security_administrator_adds"] = list(admin.adds)
        acked = "" if "skip_security_administrator" in answers.acknowledgements else " (not acknowledged)"
        parts.append(f"Security administrator skipped{acked}: the experts cannot "
                     f"{' or '.join(a[0].lower() + a[1:] for a in admin.adds)} ({admin.level}).")
    elif administrator is True and operator is False and admin.grants_without_operator:
        parts.append(f"Security administrator recorded as granted without Security operator: "
                     f"{admin.grants_without_operator}")
    if parts:
        return result("experts.roles", service, Status.WARN, " ".join(parts), evidence=evidence)
    if operator is None or administrator is None:
        return result("experts.roles", service, Status.UNKNOWN,
                      "The roles chosen on the Defender Experts settings page cannot be read from the tenant and "
                      "were not recorded: record them in the wizard or in the answers file.", evidence=evidence)
    return result("experts.roles", service, Status.PASS,
                  "Security reader, Security operator and Security administrator granted, as recorded by the "
                  f"operator (no API can confirm it; Security administrator: {admin.level}).", evidence=evidence)


# ------------------------------------------------------------------------------------ access


def looks_like_experts(name: TenantName | None) -> bool:
    """Whether a resolved tenant name reads like Microsoft's experts tenant (its ID is not published)."""
    if name is None:
        return False
    domain = re.sub(r"\.onmicrosoft\.(com|us)$", "", name.default_domain.lower())
    for text in (name.display_name, name.federation_brand_name, domain):
        lowered = text.lower()
        if "microsoft" in lowered and "expert" in lowered:
            return True
    return False


def _partner_evidence(partner: Partner, name: TenantName | None) -> dict[str, Any]:
    return {"tenant_id": partner.tenant_id, "name": _t(name.display_name) if name else "",
            "domain": _t(name.default_domain) if name else "", "is_service_provider": partner.is_service_provider,
            "inbound_mfa_accepted": partner.mfa_accepted,
            "inbound_compliant_device_accepted": partner.compliant_device_accepted}


@_check("access.service_provider", reads=("partners", "tenant_information"))
def check_access_service_provider(facts: TenantFacts, answers: Answers, cloud: CloudInfo,
                                  service: str) -> CheckResult:
    """A service-provider partner that resolves to Microsoft Experts, trusting MFA and compliant devices."""
    partners: tuple[Partner, ...] = facts.value("partners")
    names: TenantNames = facts.value("tenant_information")
    experts = [p for p in partners if looks_like_experts(names.names.get(p.tenant_id))]
    providers = [p for p in partners if p.is_service_provider]
    evidence: dict[str, Any] = {"partners": len(partners), "service_providers": len(providers),
                                "matched": [_partner_evidence(p, names.names.get(p.tenant_id)) for p in experts]}
    if answers.access is not None:
        evidence["access_confirmed"] = _confirmed(answers.access)
    sid = "access.service_provider"
    good = [p for p in experts if p.is_service_provider]
    if good:
        partner = good[0]
        name = _t(names.names[partner.tenant_id].display_name)
        missing = [label for label, value in (("MFA", partner.mfa_accepted),
                                              ("compliant devices", partner.compliant_device_accepted))
                   if value is not True]
        if not missing:
            return result(sid, service, Status.PASS,
                          f"{name} ({partner.tenant_id}) is a service-provider partner trusting inbound MFA and "
                          "compliant devices.", evidence=evidence)
        return result(sid, service, Status.WARN,
                      f"{name} ({partner.tenant_id}) is a service-provider partner, but its inbound trust does not "
                      f"accept {' or '.join(missing)}, which Give access sets up.", evidence=evidence)
    if experts:
        partner = experts[0]
        return result(sid, service, Status.FAIL,
                      f"{_t(names.names[partner.tenant_id].display_name)} ({partner.tenant_id}) is a cross-tenant "
                      "partner but not marked as service provider: access is not complete.", evidence=evidence)
    unresolved = [p.tenant_id for p in providers if p.tenant_id in names.failures or p.tenant_id in names.not_looked_up]
    if unresolved:
        reasons = "; ".join(f"{tid}: {names.failures.get(tid, 'not looked up')}" for tid in unresolved[:3])
        evidence["unresolved"] = unresolved
        return result(sid, service, Status.UNKNOWN,
                      f"No partner resolves to Microsoft Experts, but {len(unresolved)} service-provider partner(s) "
                      f"could not be named ({reasons}).", evidence=evidence)
    evidence["other_service_providers"] = [_partner_evidence(p, names.names.get(p.tenant_id)) for p in providers]
    others = f" ({len(providers)} other service-provider partner(s))" if providers else ""
    return result(sid, service, Status.FAIL,
                  f"No Microsoft Experts service-provider partner among {len(partners)} cross-tenant partner(s)"
                  f"{others}: access has not been given yet.", evidence=evidence)


@_check("access.conditional_access", reads=("ca_policies",))
def check_access_conditional_access(facts: TenantFacts, answers: Answers, cloud: CloudInfo,
                                    service: str) -> CheckResult:
    """The two "Microsoft Security Experts-…-DO NOT DELETE" policies, turned on (§1.4, §4.9)."""
    policies: CaPolicies = facts.value("ca_policies")
    found = [{"name": _t(p.display_name), "state": p.state, "grant_controls": list(p.grant_controls)}
             for p in policies.experts]
    evidence: dict[str, Any] = {"policies": found, "policies_read": policies.total}
    enabled = [p for p in policies.experts if p.state == "enabled"]
    sid = "access.conditional_access"
    if not policies.experts:
        return result(sid, service, Status.FAIL,
                      f"None of the {_n(policies.total)} conditional access policies is named 'Microsoft Security "
                      "Experts-…': access has not been given yet.", evidence=evidence)
    listing = "; ".join(f"{p['name']} ({p['state']})" for p in found)
    if len(enabled) >= 2:
        return result(sid, service, Status.PASS, f"{len(enabled)} Microsoft Security Experts policies are on: {listing}.",
                      evidence=evidence)
    return result(sid, service, Status.WARN,
                  f"Expected two Microsoft Security Experts policies turned on; found {len(found)}, {len(enabled)} "
                  f"on: {listing}.", evidence=evidence)


# ------------------------------------------------------------------------------------ information


@_check("experts.credits")
def check_experts_credits(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    return result("experts.credits", service, Status.INFO,
                  "Ask Defender Experts: 10 credits at the start of each calendar quarter; unused credits roll over; "
                  "at most 20 used per quarter; all expire at the end of the calendar year or of the subscription "
                  "term, whichever comes first.",
                  evidence={"credits_per_quarter": 10, "max_used_per_quarter": 20, "roll_over": True,
                            "expire": "end of calendar year or subscription term"})


@_check("data.residency", reads=("organization",))
def check_data_residency(facts: TenantFacts, answers: Answers, cloud: CloudInfo, service: str) -> CheckResult:
    org: Organization = facts.value("organization")
    country = org.country_letter_code
    if not country:
        failure = ReadResult("organization", error="The organization's countryLetterCode is empty (it needs "
                             "Organization.Read.All; with User.Read only it is null).", kind="http",
                             permission="Organization.Read.All")
        return unknown_from("data.residency", service, failure)
    eudb = country in EU_DATA_BOUNDARY
    # Today's text, the same for every service: the US for GCC (MDR Plan 1 for Gov, Hunting for Gov), the EU
    # for EU Data Boundary customers, worldwide for everyone else (the 2022 seed said the US for everyone).
    if cloud.name == "gcc":
        where, why = "the United States", "GCC customer"
    elif eudb:
        where, why = "the European Union", f"country {country}, in the EU Data Boundary"
    else:
        where, why = "Microsoft data centres worldwide", f"country {country}, outside the EU Data Boundary"
    return result("data.residency", service, Status.INFO,
                  f"The experts' operational data (case tickets, analyst notes) is stored in {where} ({why}); your "
                  "security data stays where Defender stores it. Kept at most 90 days after the subscription "
                  "expires; deleted within 30 days if you terminate.",
                  evidence={"country": country, "eu_data_boundary": eudb, "operational_data_region": where,
                            "cloud": cloud.name})


assert set(REGISTRY) == set(CHECK_IDS), "every seed catalogue check needs a function"

# Today's flows register their checks (and MDR's variants of seed checks) from their own module.
from dex_tui import mdr_checks  # noqa: E402, F401  (it needs the registry above)
