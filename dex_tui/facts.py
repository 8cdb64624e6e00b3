"""Every tenant read the checks need (:data:`READS`): what each one requests and how its answer is
parsed into the values of :mod:`dex_tui.tenant_facts`, a shape that does not parse being a failure.

Each read is named as in ``dex_tui.scopes.REQUIREMENTS`` and ends either with a value or with a
precise failure reason; a failure never stops the other reads. :func:`gather` runs them through
:mod:`dex_tui.read_scheduler` (a thread pool; a read that needs another one's answer, partner names
need the partner list, starts as soon as that one ends).

Requests per run do not grow with the tenant's size:
- users are counted with ``/users/$count`` (one request, whatever the number of users);
- SKUs, partners, conditional access policies and the operator's memberships are small collections;
- partner tenant names are resolved through ``$batch`` (20 per request);
- onboarded devices by sensor health are counted by the service: one Graph advanced hunting query
  (``POST /security/runHuntingQuery`` on ``DeviceInfo``, domain.md §4.15-4.16);
- antivirus modes: the same count gives the onboarded devices, and ``/api/deviceavinfo`` filtered with
  ``avMode ne '0'`` lists only the devices that are not in active mode (§4.15).
When hunting is refused (403: no ``ThreatHunting.Read.All`` or no role) or not offered (China, or an
answer saying it is not there), both reads page the Defender for Endpoint API instead, at its
documented maximum page size (``$top=10000``), several pages in flight at once within the API's
documented rate limits (:mod:`dex_tui.mde_paging`). Each device is counted as it is parsed and then
dropped: no object is built per device.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from dex_tui import hunting, mde_paging, read_scheduler
from dex_tui.graph import GRAPH, MDE, BatchRequest, BatchResponse, GraphClient, GraphError
from dex_tui.hunting import ONBOARDED_BY_HEALTH
from dex_tui.read_scheduler import ReadSpec
from dex_tui.records import dataclass
from dex_tui.scopes import REQUIREMENTS
from dex_tui.settings import is_guid
from dex_tui.tenant_facts import (
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

MDE_PAGE_SIZE = 10_000  # $top maximum of /api/machines and /api/deviceavinfo (domain.md §4.14, §4.15)
MAX_PARTNER_LOOKUPS = 60  # tenant names resolved at most (3 batches); service providers first
EXPERTS_POLICY_PREFIX = "microsoft security experts-"  # domain.md §1.4, §4.9 (compared case-insensitively)
AV_MODES = {"0": "active", "1": "passive", "2": "disabled", "3": "other", "4": "edr_blocked",
            "5": "passive_audit", "": "other"}


# ------------------------------------------------------------------------------------ the reads


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _kind(value: Any) -> str:
    """A JSON value's kind in words, for a malformed-answer message."""
    if value is None:
        return "null"
    return {list: "a list", dict: "an object", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), "something else")


def _malformed(read: str, endpoint: str, problem: str) -> GraphError:
    return GraphError(f"{endpoint} answered {problem}.", kind="malformed", endpoint=endpoint, read=read,
                      title="Malformed answer")


def read_organization(client: GraphClient, deps: Mapping[str, ReadResult]) -> Organization:
    data = client.get_json(GRAPH, "/organization", read="organization")
    items = data.get("value")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise _malformed("organization", "GET /organization", "without an organization object")
    org = items[0]
    domains = [d for d in org.get("verifiedDomains") or [] if isinstance(d, dict)]
    default = next((d.get("name") for d in domains if d.get("isDefault")), None)
    default = default or next((d.get("name") for d in domains if d.get("isInitial")), "")
    return Organization(id=str(org.get("id") or ""), display_name=str(org.get("displayName") or ""),
                        country_letter_code=(str(org["countryLetterCode"]).upper()
                                             if org.get("countryLetterCode") else None),
                        default_domain=str(default or ""), tenant_type=org.get("tenantType"))


def read_me(client: GraphClient, deps: Mapping[str, ReadResult]) -> Operator:
    data = client.get_json(GRAPH, "/me", read="me")
    return Operator(id=str(data.get("id") or ""), display_name=str(data.get("displayName") or ""),
                    user_principal_name=str(data.get("userPrincipalName") or ""))


def _roles_in(items: Iterable[dict[str, Any]]) -> list[DirectoryRole]:
    roles = []
    for item in items:
        if str(item.get("@odata.type", "")).lower() == "#microsoft.graph.directoryrole" and item.get("roleTemplateId"):
            roles.append(DirectoryRole(str(item["roleTemplateId"]).lower(), str(item.get("displayName") or "")))
    return roles


def read_member_of(client: GraphClient, deps: Mapping[str, ReadResult]) -> MemberOf:
    """The operator's directory roles, including roles held through role-assignable groups.

    Falls back to direct memberships (``/me/memberOf``, domain.md §4.10) if the transitive form is
    refused as unsupported.
    """
    try:
        items = client.get_all(GRAPH, "/me/transitiveMemberOf", read="member_of")
        transitive = True
    except GraphError as error:
        if error.status not in (400, 404, 405, 501):
            raise
        items = client.get_all(GRAPH, "/me/memberOf", read="member_of")
        transitive = False
    unique = {role.template_id: role for role in _roles_in(items)}
    return MemberOf(tuple(unique.values()), transitive)


def read_subscribed_skus(client: GraphClient, deps: Mapping[str, ReadResult]) -> tuple[Sku, ...]:
    skus = []
    for item in client.get_all(GRAPH, "/subscribedSkus", read="subscribed_skus"):
        prepaid = _as_dict(item.get("prepaidUnits"))
        plans = tuple(ServicePlan(str(p.get("servicePlanId") or "").lower(), str(p.get("servicePlanName") or ""),
                                  str(p.get("provisioningStatus") or ""))
                      for p in item.get("servicePlans") or [] if isinstance(p, dict))
        skus.append(Sku(sku_id=str(item.get("skuId") or "").lower(), part_number=str(item.get("skuPartNumber") or ""),
                        capability_status=str(item.get("capabilityStatus") or ""),
                        enabled_units=_as_int(prepaid.get("enabled")), consumed_units=_as_int(item.get("consumedUnits")),
                        plans=plans))
    return tuple(skus)


ENABLED_MEMBERS = "accountEnabled eq true and userType eq 'Member'"


def read_user_count(client: GraphClient, deps: Mapping[str, ReadResult]) -> UserCount:
    """The enabled member accounts (the users who need Entra ID P1), counted by the service: one request
    whatever the tenant's size (§4.12). If the filter is refused (400), every user is counted instead
    and ``members_only`` says so: that count can show enough licences, never a shortfall."""
    try:
        return UserCount(client.count("/users", filter=ENABLED_MEMBERS, read="user_count"), True)
    except GraphError as error:
        if error.status != 400:  # the filter with $count is UNVERIFIED; fall back to all users
            raise
        return UserCount(client.count("/users", read="user_count"), False)


def read_partners(client: GraphClient, deps: Mapping[str, ReadResult]) -> tuple[Partner, ...]:
    partners = []
    for item in client.get_all(GRAPH, "/policies/crossTenantAccessPolicy/partners", read="partners"):
        trust = _as_dict(item.get("inboundTrust"))
        partners.append(Partner(tenant_id=str(item.get("tenantId") or "").lower(),
                                is_service_provider=item.get("isServiceProvider") is True,
                                mfa_accepted=_as_bool(trust.get("isMfaAccepted")),
                                compliant_device_accepted=_as_bool(trust.get("isCompliantDeviceAccepted"))))
    return tuple(partners)


def read_tenant_information(client: GraphClient, deps: Mapping[str, ReadResult]) -> TenantNames:
    """Resolve the partners' tenant names (the partner object has none, §4.8) through ``$batch``."""
    partners: tuple[Partner, ...] = deps["partners"].value
    ordered = sorted(partners, key=lambda p: not p.is_service_provider)
    wanted = [p.tenant_id for p in ordered if is_guid(p.tenant_id)]
    failures = {p.tenant_id: "not a tenant ID" for p in ordered if not is_guid(p.tenant_id)}
    lookups, skipped = wanted[:MAX_PARTNER_LOOKUPS], tuple(wanted[MAX_PARTNER_LOOKUPS:])
    if not lookups:
        return TenantNames(MappingProxyType({}), MappingProxyType(failures), skipped)
    urls = {tid: f"/tenantRelationships/findTenantInformationByTenantId(tenantId='{tid}')" for tid in lookups}
    try:
        answers = client.batch([BatchRequest(id=str(i), url=urls[tid]) for i, tid in enumerate(lookups)],
                               read="tenant_information")
    except GraphError as error:
        if error.status not in (400, 404, 405, 501):
            raise
        answers = _one_by_one(client, lookups, urls)  # an endpoint without $batch support
    names: dict[str, TenantName] = {}
    errors: list[GraphError] = []
    for i, tid in enumerate(lookups):
        answer = answers[str(i)]
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.ok:
            names[tid] = TenantName(tid, str(body.get("displayName") or ""), str(body.get("defaultDomainName") or ""),
                                    str(body.get("federationBrandName") or ""))
        else:
            refused = client.batch_error(answer, urls[tid], read="tenant_information")
            errors.append(refused)
            failures[tid] = refused.reason()
    if errors and not names and len(errors) == len(lookups) and errors[0].status in (401, 403):
        raise errors[0]  # the whole read is refused, not one tenant: report it as a read failure
    return TenantNames(MappingProxyType(names), MappingProxyType(failures), skipped)


def _one_by_one(client: GraphClient, lookups: list[str], urls: Mapping[str, str]) -> dict[str, BatchResponse]:
    """The same lookups as separate GETs, shaped like batch answers."""
    answers: dict[str, BatchResponse] = {}
    for i, tid in enumerate(lookups):
        try:
            body: Any = client.get_json(GRAPH, urls[tid], read="tenant_information")
            answers[str(i)] = BatchResponse(str(i), 200, {}, body)
        except GraphError as error:
            if error.status is None:
                raise
            answers[str(i)] = BatchResponse(str(i), error.status, {},
                                            {"error": {"code": error.code, "message": error.message}})
    return answers


def read_ca_policies(client: GraphClient, deps: Mapping[str, ReadResult]) -> CaPolicies:
    experts, total = [], 0
    for page in client.iter_pages(GRAPH, "/identity/conditionalAccess/policies", read="ca_policies"):
        total += len(page)
        for item in page:
            name = str(item.get("displayName") or "")
            if name.strip().lower().startswith(EXPERTS_POLICY_PREFIX):
                grant = _as_dict(item.get("grantControls"))
                controls = tuple(str(c) for c in grant.get("builtInControls") or [])
                experts.append(CaPolicy(str(item.get("id") or ""), name, str(item.get("state") or ""), controls))
    return CaPolicies(tuple(experts), total)


# DeviceInfo's SensorHealthState words -> the machines API's healthStatus values (compared without case
# or spaces), so both ways of counting give the same keys.
SENSOR_HEALTH = {"active": "Active", "inactive": "Inactive", "impairedcommunication": "ImpairedCommunication",
                 "nosensordata": "NoSensorData", "nosensordataimpairedcommunication": "NoSensorDataImpairedCommunication",
                 "unknown": "Unknown", "": "Unknown"}


def hunt_onboarded_by_health(client: GraphClient, read: str) -> dict[str, int]:
    """Onboarded devices by sensor health (machines API names), counted by advanced hunting."""
    health: Counter[str] = Counter()
    for state, devices in hunting.count_by(client, ONBOARDED_BY_HEALTH, "SensorHealthState", read=read).items():
        raw = (state or "").strip()
        health[SENSOR_HEALTH.get(raw.replace(" ", "").lower(), raw[:60])] += devices
    return {state: n for state, n in health.items() if n}


def read_machines(client: GraphClient, deps: Mapping[str, ReadResult]) -> DeviceCounts:
    """Onboarded devices by health status: counted by advanced hunting in one request; where hunting
    cannot be used, counted while paging the machines API (each device parsed, counted, dropped)."""
    try:
        health = hunt_onboarded_by_health(client, "machines")
        return DeviceCounts(sum(health.values()), MappingProxyType(health), 0, source="hunting")
    except hunting.HuntingUnavailable as unavailable:
        return _page_machines(client, unavailable.reason)


def _page_machines(client: GraphClient, why: str) -> DeviceCounts:
    health: Counter[str] = Counter()
    pages = 0
    try:
        for items in mde_paging.page_items(client, "/machines", read="machines", page_size=MDE_PAGE_SIZE,
                                           params={"$filter": "onboardingStatus eq 'Onboarded'"}):
            pages += 1
            for item in items:
                status = item.get("onboardingStatus", item.get("onboardingstatus", "Onboarded"))
                state = item.get("healthStatus")
                if not isinstance(status, str):  # a wrong shape makes no count: unknown, never "none onboarded"
                    raise _malformed("machines", "GET /api/machines",
                                     f"a device whose onboardingStatus is {_kind(status)}, not a string")
                if not (state is None or isinstance(state, str)):
                    raise _malformed("machines", "GET /api/machines",
                                     f"a device whose healthStatus is {_kind(state)}, not a string")
                if status.lower() == "onboarded":
                    health[state or "Unknown"] += 1
    except GraphError as error:
        if error.status == 404:  # documented: 404 when the tenant has no recent machines (§4.14)
            return DeviceCounts(0, MappingProxyType({}), pages + 1, no_recent_machines=True, hunting_problem=why)
        raise
    return DeviceCounts(sum(health.values()), MappingProxyType(dict(health)), pages, hunting_problem=why)


def _av_mode(item: Mapping[str, Any]) -> str:
    raw = item.get("avMode")
    if not (raw is None or isinstance(raw, str | int)) or isinstance(raw, bool):
        raise _malformed("av_info", "GET /api/deviceavinfo", f"a device whose avMode is {_kind(raw)}, not a mode")
    return AV_MODES.get("" if raw is None else str(raw).strip(), "other")


NOT_ACTIVE = "avMode ne '0'"  # deviceavinfo filters on avMode; '0' is Active (domain.md §4.15)


def read_av_info(client: GraphClient, deps: Mapping[str, ReadResult]) -> AvModeCounts:
    """Devices per Defender Antivirus mode. With advanced hunting: the onboarded devices are counted by
    the service while only the devices *not* in active mode are listed (``$filter=avMode ne '0'``), the
    two requests at once; active = onboarded - not active. Without hunting: every device of
    ``/api/deviceavinfo`` is paged and counted as it is parsed (the filtered pages are then not used)."""
    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="dex-av_info-hunt") as pool:
        counting = pool.submit(_onboarded_counted, client)
        listed: _Modes | GraphError
        try:
            listed = _count_modes(client, {"$filter": NOT_ACTIVE})
        except GraphError as error:
            listed = error  # decided below: without hunting these pages were not needed anyway
        onboarded, requests_sent = counting.result()
    client.credit_requests(requests_sent)
    if isinstance(onboarded, hunting.HuntingUnavailable):
        modes = _count_modes(client, {})
        return AvModeCounts(MappingProxyType(dict(modes.counts)), sum(modes.counts.values()), modes.pages,
                            hunting_problem=onboarded.reason)
    if isinstance(onboarded, BaseException):
        raise onboarded
    if isinstance(listed, GraphError):
        raise listed
    if listed.counts.get("active"):
        raise _malformed("av_info", "GET /api/deviceavinfo",
                         f"devices in active mode to a filter for {NOT_ACTIVE}")
    not_active = sum(listed.counts.values())
    if not_active > onboarded:  # the two services disagree: no count can be trusted
        raise _malformed("av_info", "GET /api/deviceavinfo",
                         f"{not_active} devices not in active mode, more than the {onboarded} onboarded devices "
                         "advanced hunting counts")
    counts = dict(listed.counts)
    if onboarded - not_active:
        counts["active"] = onboarded - not_active
    return AvModeCounts(MappingProxyType(counts), onboarded, listed.pages, source="hunting")


def _onboarded_counted(client: GraphClient) -> tuple[int | Exception, int]:
    """In a helper thread: the onboarded devices by hunting (or why not), and the requests it sent."""
    before = client.thread_requests()
    try:
        outcome: int | Exception = sum(hunt_onboarded_by_health(client, "av_info").values())
    except (hunting.HuntingUnavailable, GraphError) as problem:
        outcome = problem
    return outcome, client.thread_requests() - before


@dataclass
class _Modes:
    counts: Counter[str]
    pages: int


def _count_modes(client: GraphClient, params: Mapping[str, Any]) -> _Modes:
    modes: Counter[str] = Counter()
    pages = 0
    for items in mde_paging.page_items(client, "/deviceavinfo", read="av_info", params=params,
                                       page_size=MDE_PAGE_SIZE):
        pages += 1
        for item in items:
            modes[_av_mode(item)] += 1
    return _Modes(modes, pages)


READS: dict[str, ReadSpec] = {spec.name: spec for spec in (
    ReadSpec("organization", GRAPH, "GET /organization", read_organization),
    ReadSpec("me", GRAPH, "GET /me", read_me),
    ReadSpec("member_of", GRAPH, "GET /me/transitiveMemberOf", read_member_of),
    ReadSpec("subscribed_skus", GRAPH, "GET /subscribedSkus", read_subscribed_skus),
    ReadSpec("user_count", GRAPH, f"GET /users/$count?$filter={ENABLED_MEMBERS}", read_user_count),
    ReadSpec("partners", GRAPH, "GET /policies/crossTenantAccessPolicy/partners", read_partners),
    ReadSpec("tenant_information", GRAPH, "POST /$batch of findTenantInformationByTenantId",
             read_tenant_information, ("partners",)),
    ReadSpec("ca_policies", GRAPH, "GET /identity/conditionalAccess/policies", read_ca_policies),
    ReadSpec("machines", MDE, f"POST {hunting.PATH} (DeviceInfo), else GET /api/machines?$filter=onboardingStatus eq "
             "'Onboarded'", read_machines),
    ReadSpec("av_info", MDE, f"POST {hunting.PATH} and GET /api/deviceavinfo?$filter={NOT_ACTIVE}, else GET "
             "/api/deviceavinfo", read_av_info),
)}

# Today's flows (MDR, Hunting's onboarding) add their reads from their own module.
from dex_tui.mdr_reads import MDR_READS  # noqa: E402

READS.update({spec.name: spec for spec in MDR_READS})
assert all(name in REQUIREMENTS for name in READS)


def with_dependencies(names: Iterable[str]) -> list[str]:
    """``names`` plus the reads they depend on, in :data:`READS` order."""
    return read_scheduler.with_dependencies(names, READS)


def gather(client: GraphClient, cloud: CloudInfo, *, names: Iterable[str] | None = None,
           previous: TenantFacts | None = None, on_read: Callable[[ReadResult], None] | None = None,
           is_cancelled: Callable[[], bool] | None = None, max_workers: int = 10) -> TenantFacts:
    """Run :data:`READS` (all, or ``names`` plus their dependencies) concurrently and return the facts
    (:func:`dex_tui.read_scheduler.gather` says how)."""
    return read_scheduler.gather(client, cloud, READS, names=names, previous=previous, on_read=on_read,
                                 is_cancelled=is_cancelled, max_workers=max_workers)


__all__ = [
    "AV_MODES", "EXPERTS_POLICY_PREFIX", "MAX_PARTNER_LOOKUPS", "MDE_PAGE_SIZE", "READS",
    "AvModeCounts", "CaPolicies", "CaPolicy", "CloudInfo", "DeviceCounts", "DirectoryRole", "MemberOf", "Operator",
    "Organization", "Partner", "ReadResult", "ReadSpec", "ServicePlan", "Sku", "TenantFacts", "TenantName",
    "TenantNames", "UserCount", "gather", "with_dependencies",
]
