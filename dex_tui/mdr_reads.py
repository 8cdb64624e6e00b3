"""The tenant reads of today's flows (Defender Experts MDR, Hunting's onboarding), registered in
``dex_tui.facts.READS`` beside the seed flow's reads.

Shapes: reference/mdr-today.md and domain.md §4.13, §4.14; Graph v1.0 ``security/identities/healthIssues``
and ``security/incidents`` (their documented examples). Every read is bounded: group lookups go by
exact name through ``$batch`` (names from the answers, at most ``MAX_LOOKUPS``), incidents are read
from the most recent ``INCIDENT_PAGES`` pages only, health issues and device groups are counted as
they are parsed. A shape that does not parse raises a malformed ``GraphError``: the read is ``unknown``.

The group lookups need the names the operator recorded: they use the ``answers`` input, a pseudo-read
the engine supplies among the earlier results (``ANSWERS_INPUT``, value the run's ``Answers``); without
it only the fixed names (scoped coverage, the Defender Experts team) are looked up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from dex_tui import hunting, mde_paging
from dex_tui.graph import GRAPH, MDE, BatchRequest, GraphClient, GraphError, build_query
from dex_tui.mdr_facts import (  # noqa: F401 (re-exported: the reads' values)
    ANSWERS_INPUT,
    GROUP_SELECT,
    GROUP_UNIFIED_TEMPLATE,
    HEALTH_SEVERITIES,
    INCIDENT_PAGE_SIZE,
    INCIDENT_PAGES,
    MAX_LOOKUPS,
    MDE_PAGE_SIZE,
    SAMPLE_INCIDENT_PREFIX,
    SCOPED_DEVICES_GROUP,
    SCOPED_USERS_GROUP,
    TEAM_GROUP,
    DeviceGroups,
    GroupCreation,
    GroupInfo,
    GroupLookups,
    HealthIssues,
    IncidentSearch,
    LicensedPlan,
)
from dex_tui.read_scheduler import ReadSpec
from dex_tui.tenant_facts import ReadResult


def _malformed(read: str, endpoint: str, problem: str) -> GraphError:
    return GraphError(f"{endpoint} answered {problem}.", kind="malformed", endpoint=endpoint, read=read,
                      title="Malformed answer")


def _opt_bool(item: Mapping[str, Any], key: str) -> bool | None:
    value = item.get(key)
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def group_names_to_look_up(answers: Any) -> list[str]:
    """The Entra groups today's checks need: the recorded exclusion user groups, the scoped-coverage
    user group and the Defender Experts team (fixed names), each once, at most :data:`MAX_LOOKUPS`."""
    names: list[str] = []
    mdr = getattr(answers, "mdr", None)
    if mdr is not None and mdr.exclusion_user_groups:
        names.extend(mdr.exclusion_user_groups)
    names += [SCOPED_USERS_GROUP, TEAM_GROUP]
    unique = list(dict.fromkeys(names))
    return unique[:MAX_LOOKUPS]


def _odata_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _group(item: Any, read: str, endpoint: str) -> GroupInfo:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise _malformed(read, endpoint, "a group without an id")
    types = item.get("groupTypes")
    return GroupInfo(id=item["id"].lower(), display_name=_text(item.get("displayName")),
                     security_enabled=_opt_bool(item, "securityEnabled"), mail_enabled=_opt_bool(item, "mailEnabled"),
                     unified=isinstance(types, list) and "Unified" in types,
                     synced=item.get("onPremisesSyncEnabled") is True)


# ------------------------------------------------------------------------------------ the reads


def device_groups_needed(answers: Any) -> bool:
    """Whether the recorded choices name device groups (exclusions, scoped coverage); unknown answers: yes."""
    if answers is None:
        return True
    mdr = getattr(answers, "mdr", None)
    return mdr is not None and (bool(mdr.exclusion_device_groups) or mdr.scoped_coverage is True)


def read_device_groups(client: GraphClient, deps: Mapping[str, ReadResult]) -> DeviceGroups:
    """The device groups that hold at least one device (every onboarding status), with their sizes:
    counted by advanced hunting (``DeviceInfo``'s ``MachineGroup``, one request), or, where hunting
    cannot be used, as distinct ``rbacGroupName`` values while paging ``GET /api/machines``. The API has
    no device-group list; groups are seen through their devices, so an empty group is not seen. Only
    read when the recorded choices name device groups."""
    given = deps.get(ANSWERS_INPUT)
    if not device_groups_needed(given.value if given is not None and given.ok else None):
        return DeviceGroups(MappingProxyType({}), 0, looked_up=False)
    try:
        counted = hunting.count_by(client, hunting.DEVICES_BY_GROUP, "MachineGroup", read="device_groups")
    except hunting.HuntingUnavailable:
        return _page_device_groups(client)
    groups: Counter[str] = Counter()
    for name, devices in counted.items():
        groups[name or "UnassignedGroup"] += devices
    return DeviceGroups(MappingProxyType({k: v for k, v in groups.items() if v}), 0)


def _page_device_groups(client: GraphClient) -> DeviceGroups:
    names: Counter[str] = Counter()
    pages = 0
    try:
        for items in mde_paging.page_items(client, "/machines", read="device_groups", params={},
                                           page_size=MDE_PAGE_SIZE):
            pages += 1
            for item in items:
                name = item.get("rbacGroupName")
                if name is not None and not isinstance(name, str):
                    raise _malformed("device_groups", "GET /api/machines", "an rbacGroupName that is not a string")
                names[name or "UnassignedGroup"] += 1
    except GraphError as error:
        if error.status == 404:  # documented: 404 when the tenant has no recent machines
            return DeviceGroups(MappingProxyType({}), pages + 1, no_recent_machines=True)
        raise
    return DeviceGroups(MappingProxyType(dict(names)), pages)


def read_mdr_groups(client: GraphClient, deps: Mapping[str, ReadResult]) -> GroupLookups:
    """Each wanted group by exact display name through ``$batch`` (20 per request), then the nested
    groups of the scoped-coverage user group (``/groups/{id}/members/microsoft.graph.group``)."""
    given = deps.get(ANSWERS_INPUT)
    answers = given.value if given is not None and given.ok else None
    names = group_names_to_look_up(answers)
    urls = {name: "/groups?" + build_query({"$filter": f"displayName eq {_odata_quote(name)}",
                                            "$select": GROUP_SELECT})
            for name in names}
    answers_by_id = client.batch([BatchRequest(id=str(i), url=urls[n]) for i, n in enumerate(names)],
                                 read="mdr_groups")
    found: dict[str, tuple[GroupInfo, ...]] = {}
    failures: dict[str, str] = {}
    errors: list[GraphError] = []
    for i, name in enumerate(names):
        answer = answers_by_id[str(i)]
        if not answer.ok:
            error = client.batch_error(answer, urls[name], read="mdr_groups")
            errors.append(error)
            failures[name] = error.reason()
            continue
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise _malformed("mdr_groups", "GET /groups", "without a value list")
        groups = tuple(_group(item, "mdr_groups", "GET /groups") for item in body["value"])
        # Graph's eq on displayName is case-insensitive; keep only exact matches, as the portal's names are exact.
        found[name] = tuple(g for g in groups if g.display_name == name) or tuple(
            g for g in groups if g.display_name.lower() == name.lower())
    if errors and len(errors) == len(names) and errors[0].status in (401, 403):
        raise errors[0]  # the whole read is refused, not one group
    nested: dict[str, tuple[str, ...]] = {}
    nested_failures: dict[str, str] = {}
    for group in found.get(SCOPED_USERS_GROUP, ()):
        try:
            members = client.get_all(GRAPH, f"/groups/{group.id}/members/microsoft.graph.group",
                                     params={"$select": "id,displayName"}, read="mdr_groups", max_pages=20)
        except GraphError as error:
            if error.status is None:
                raise
            nested_failures[group.id] = error.reason()
            continue
        nested[group.id] = tuple(_text(m.get("displayName")) or _text(m.get("id")) for m in members)
    return GroupLookups(MappingProxyType(found), MappingProxyType(failures), MappingProxyType(nested),
                        MappingProxyType(nested_failures))


def read_license_details(client: GraphClient, deps: Mapping[str, ReadResult]) -> tuple[LicensedPlan, ...]:
    """The signed-in operator's own licences with their service plans (``GET /me/licenseDetails``)."""
    plans: list[LicensedPlan] = []
    for item in client.get_all(GRAPH, "/me/licenseDetails", read="license_details", max_pages=20):
        sku = _text(item.get("skuPartNumber"))
        service_plans = item.get("servicePlans")
        if not isinstance(service_plans, list):
            raise _malformed("license_details", "GET /me/licenseDetails", "a licence without servicePlans")
        for plan in service_plans:
            if not isinstance(plan, dict) or not isinstance(plan.get("servicePlanId"), str):
                raise _malformed("license_details", "GET /me/licenseDetails", "a service plan without an id")
            plans.append(LicensedPlan(sku, plan["servicePlanId"].lower(), _text(plan.get("servicePlanName")),
                                      _text(plan.get("provisioningStatus"))))
    return tuple(plans)


def read_group_settings(client: GraphClient, deps: Mapping[str, ReadResult]) -> GroupCreation:
    """``GET /groupSettings``: the ``Group.Unified`` setting's ``EnableGroupCreation`` and
    ``GroupCreationAllowedGroupId`` (domain.md §4.13); when creation is limited to a group, whether the
    operator is in it (``/me/transitiveMemberOf/microsoft.graph.group``)."""
    settings = client.get_all(GRAPH, "/groupSettings", read="group_settings", max_pages=5)
    unified = [s for s in settings if str(s.get("templateId") or "").lower() == GROUP_UNIFIED_TEMPLATE
               or s.get("displayName") == "Group.Unified"]
    if not unified:
        return GroupCreation(False, None, "", None)
    values = unified[0].get("values")
    if not isinstance(values, list):
        raise _malformed("group_settings", "GET /groupSettings", "a Group.Unified setting without values")
    by_name = {str(v.get("name")): v.get("value") for v in values if isinstance(v, dict)}
    raw = str(by_name.get("EnableGroupCreation", "true") or "true").strip().lower()
    if raw not in ("true", "false"):
        raise _malformed("group_settings", "GET /groupSettings", f"EnableGroupCreation = {raw[:20]!r}")
    enabled = raw == "true"
    allowed = str(by_name.get("GroupCreationAllowedGroupId") or "").strip().lower()
    member = None
    if not enabled and allowed:
        groups = client.get_all(GRAPH, "/me/transitiveMemberOf/microsoft.graph.group", params={"$select": "id"},
                                read="group_settings", max_pages=50)
        member = any(str(g.get("id") or "").lower() == allowed for g in groups)
    return GroupCreation(True, enabled, allowed, member)


def read_identity_health(client: GraphClient, deps: Mapping[str, ReadResult]) -> HealthIssues:
    """Open Defender for Identity health issues (Graph v1.0 ``security/identities/healthIssues``)."""
    counts: Counter[str] = Counter()
    examples: list[str] = []
    for items in client.iter_page_items(GRAPH, "/security/identities/healthIssues", read="identity_health",
                                        params={"$filter": "status eq 'open'"}, max_pages=50):
        for item in items:
            if str(item.get("status") or "").lower() != "open":
                continue
            severity = str(item.get("severity") or "").lower()
            counts[severity if severity in HEALTH_SEVERITIES else "other"] += 1
            if len(examples) < 5 and isinstance(item.get("displayName"), str):
                examples.append(item["displayName"])
    return HealthIssues(MappingProxyType(dict(counts)), tuple(examples), sum(counts.values()))


def read_incidents(client: GraphClient, deps: Mapping[str, ReadResult]) -> IncidentSearch:
    """The sample notification's incident among the most recent incidents (``GET /security/incidents``
    lists the most recent first; its ``$filter`` cannot take the title, so the title is matched here)."""
    matches: list[Mapping[str, str]] = []
    scanned = 0
    pages = client.iter_page_items(GRAPH, "/security/incidents", read="incidents",
                                   params={"$top": INCIDENT_PAGE_SIZE}, max_pages=INCIDENT_PAGES + 1)
    complete = True
    for number, items in enumerate(pages):
        if number == INCIDENT_PAGES:
            complete = False
            break
        for item in items:
            scanned += 1
            title = _text(item.get("displayName"))
            if title.strip().lower().startswith(SAMPLE_INCIDENT_PREFIX):
                matches.append(MappingProxyType({"id": _text(item.get("id")), "title": title,
                                                 "created": _text(item.get("createdDateTime")),
                                                 "status": _text(item.get("status"))}))
    return IncidentSearch(tuple(matches), scanned, complete)


MDR_READS: tuple[ReadSpec, ...] = (
    ReadSpec("device_groups", MDE, f"POST {hunting.PATH} (DeviceInfo MachineGroup), else GET /api/machines "
             "(rbacGroupName)", read_device_groups),
    ReadSpec("mdr_groups", GRAPH, "POST /$batch of GET /groups?$filter=displayName eq '…'", read_mdr_groups),
    ReadSpec("license_details", GRAPH, "GET /me/licenseDetails", read_license_details),
    ReadSpec("group_settings", GRAPH, "GET /groupSettings", read_group_settings),
    ReadSpec("identity_health", GRAPH, "GET /security/identities/healthIssues?$filter=status eq 'open'",
             read_identity_health),
    ReadSpec("incidents", GRAPH, f"GET /security/incidents?$top={INCIDENT_PAGE_SIZE}", read_incidents),
)


def answers_input(answers: Any) -> ReadResult:
    """The ``answers`` pseudo-read the engine hands to reads that look up what the operator named."""
    return ReadResult(ANSWERS_INPUT, value=answers)


def names(specs: Iterable[ReadSpec] = MDR_READS) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs)
