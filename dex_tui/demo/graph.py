"""The fake Microsoft Graph v1.0: the reads the product makes, with Graph's paging (``@odata.nextLink``
as a full URL), ``$select``/``$filter``/``$top``, ``$batch`` (at most 20 requests, answered in a
shuffled but deterministic order, inner 429s), its error body, 401 for a missing, forged, expired or
wrong-audience token, and 403 ``Authorization_RequestDenied`` when the token lacks the permission in
our own least-privilege table (``catalogue.PERMISSIONS``) or the operator lacks the role.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from requests.structures import CaseInsensitiveDict

from dex_tui.demo.catalogue import PERMISSIONS
from dex_tui.demo.hunting import TIMESPAN, HuntingError, run_hunting_query
from dex_tui.demo.lazy import Selection
from dex_tui.demo.odata import FilterError, Node, evaluate, getter, parse_filter
from dex_tui.demo.wire import GRAPH_JSON, Reply, Request, graph_error, json_reply, text_reply

if TYPE_CHECKING:
    from dex_tui.demo.cloud import FakeCloud

GROUP_UNIFIED_TEMPLATE = "62375ab9-6b52-47ed-826b-58e47e0e304b"
MAX_BATCH = 20
_SAFE = "$=,'()"
_TENANT_INFO = re.compile(r"^/tenantRelationships/findTenantInformationByTenantId\(tenantId='([^']*)'\)$", re.I)
# /me/memberOf, optionally cast to one type: /me/memberOf/microsoft.graph.directoryRole
_MEMBER_OF = re.compile(r"^/me/memberOf(?:/microsoft\.graph\.(directoryRole|group))?$", re.I)
_TRANSITIVE = re.compile(r"^/me/transitiveMemberOf(?:/microsoft\.graph\.(directoryRole|group))?$", re.I)
_PARTNER = re.compile(r"^/policies/crossTenantAccessPolicy/partners/([^/]+)$", re.I)
# /groups/{id}/members, optionally cast: /groups/{id}/members/microsoft.graph.group
_GROUP_MEMBERS = re.compile(r"^/groups/([^/]+)/members(?:/microsoft\.graph\.(user|group))?$", re.I)
GROUP_FILTERS = ("displayName", "id", "securityEnabled", "mailEnabled", "onPremisesSyncEnabled", "mailNickname")

Handler = Callable[[Request], Reply]


class GraphProblem(Exception):
    """An error reply to give instead of the normal answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _captured(pattern: re.Pattern[str], path: str) -> str:
    """The first group of ``pattern`` in a path its route already matched ('' when that group is optional
    and absent)."""
    match = pattern.match(path)
    if match is None:
        raise GraphProblem(400, "BadRequest", "Invalid request.")
    return match.group(1) or ""


class Graph:
    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.routes: list[tuple[str, str, Any, Handler]] = [
            ("GET", "graph.organization", "/organization", self.organization),
            ("GET", "graph.me", "/me", self.me),
            ("GET", "graph.memberOf", _MEMBER_OF, self.member_of),
            ("GET", "graph.transitiveMemberOf", _TRANSITIVE, self.transitive_member_of),
            ("GET", "graph.subscribedSkus", "/subscribedSkus", self.subscribed_skus),
            ("GET", "graph.usersCount", "/users/$count", self.users_count),
            ("GET", "graph.users", "/users", self.users),
            ("GET", "graph.partners", "/policies/crossTenantAccessPolicy/partners", self.partners),
            ("GET", "graph.partner", _PARTNER, self.partner),
            ("GET", "graph.tenantInformation", _TENANT_INFO, self.tenant_information),
            ("GET", "graph.caPolicies", "/identity/conditionalAccess/policies", self.ca_policies),
            ("GET", "graph.roleDefinitions", "/roleManagement/directory/roleDefinitions", self.role_definitions),
            ("GET", "graph.roleAssignments", "/roleManagement/directory/roleAssignments", self.role_assignments),
            ("GET", "graph.groupSettings", "/groupSettings", self.group_settings),
            ("GET", "graph.groups", "/groups", self.groups),
            ("GET", "graph.groupMembers", _GROUP_MEMBERS, self.group_members),
            ("GET", "graph.licenseDetails", "/me/licenseDetails", self.license_details),
            ("GET", "graph.healthIssues", "/security/identities/healthIssues", self.health_issues),
            ("GET", "graph.incidents", "/security/incidents", self.incidents),
            ("POST", "graph.huntingQuery", "/security/runHuntingQuery", self.hunting_query),
            ("POST", "graph.batch", "/$batch", self.batch),
        ]

    # ----------------------------------------------------------------- routing

    def route(self, req: Request) -> tuple[str, Handler] | None:
        if not req.path.startswith("/v1.0/") and req.path != "/v1.0":
            return None
        path = req.path[len("/v1.0"):].rstrip("/") or "/"
        for method, endpoint, pattern, handler in self.routes:
            matched = path.lower() == pattern.lower() if isinstance(pattern, str) else pattern.match(path)
            if matched and req.method == method:
                return endpoint, self._guarded(endpoint, handler)
        return None

    def _guarded(self, endpoint: str, handler: Handler) -> Handler:
        def run(req: Request) -> Reply:
            try:
                if endpoint != "graph.batch":
                    self._authorize(req, endpoint)
                return handler(req)
            except GraphProblem as problem:
                return self._error(req, problem.status, problem.code, problem.message)
            except FilterError as exc:
                return self._error(req, 400, "BadRequest", f"Invalid filter clause: {exc}")
        return run

    def _error(self, req: Request, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> Reply:
        return graph_error(status, code, message, now=self.cloud.scenario.now, request_id=req.request_id,
                           client_request_id=req.headers.get("client-request-id"), headers=headers)

    def _authorize(self, req: Request, endpoint: str) -> None:
        token = req.bearer()
        if not token:
            raise GraphProblem(401, "InvalidAuthenticationToken", "Access token is empty.")
        grant = self.cloud.tokens.access.get(token)
        if grant is None or not self.cloud.tokens.verify(token):
            raise GraphProblem(401, "InvalidAuthenticationToken",
                               "IDX14100: JWT is not well formed, there are no dots (.) or the signature is invalid.")
        if grant.audience != "graph":
            raise GraphProblem(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if grant.expires_at < self.cloud.clock():
            raise GraphProblem(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        need = PERMISSIONS[endpoint]
        if grant.app_only:  # an application's token: application permissions, no user and so no /me
            if not need.app:
                raise GraphProblem(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            if not grant.scopes & need.app:
                raise GraphProblem(403, "Authorization_RequestDenied",
                                   "Insufficient privileges to complete the operation.")
            req.granted = grant.scopes
            return
        if not grant.scopes & need.accepted:
            raise GraphProblem(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        if need.roles is not None and not grant.role_ids & need.roles:
            raise GraphProblem(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        req.granted = grant.scopes

    # ----------------------------------------------------------------- shared helpers

    def _context(self, req: Request, what: str) -> str:
        return f"{req.base}/v1.0/$metadata#{what}"

    def _ok(self, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return json_reply(200, payload, headers, GRAPH_JSON)

    def _filter(self, req: Request, allowed: Sequence[str]) -> Node | None:
        text = req.query.get("$filter")
        if not text:
            return None
        node = parse_filter(text)
        from dex_tui.demo.odata import properties

        unknown = properties(node) - {a.lower() for a in allowed}
        if unknown:
            raise GraphProblem(400, "Request_UnsupportedQuery",
                               f"Unsupported or invalid query filter clause specified for property "
                               f"'{sorted(unknown)[0]}' of resource.")
        return node

    def _top(self, req: Request, default: int, maximum: int) -> int:
        raw = req.query.get("$top")
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise GraphProblem(400, "BadRequest", f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum}.")
        return min(int(raw), maximum)

    def _select(self, req: Request, item: dict[str, Any], *, typed: bool = False) -> dict[str, Any]:
        """Apply ``$select``. ``typed``: a directoryObjects collection, where Graph keeps ``@odata.type``."""
        if not typed:
            item = {k: v for k, v in item.items() if k != "@odata.type"}
        raw = req.query.get("$select")
        if not raw:
            if "userPrincipalName" in item:  # a user: Graph's default properties leave these out
                return {k: v for k, v in item.items() if k not in ("userType", "accountEnabled")}
            return item
        wanted = {w.strip().lower() for w in raw.split(",") if w.strip()}
        return {k: v for k, v in item.items() if k.lower() in wanted or k == "@odata.type"}

    def _page(self, req: Request, items: Sequence[dict[str, Any]] | Selection, what: str, *,
              default_top: int, max_top: int, count: bool = False, typed: bool = False) -> Reply:
        """One page of a collection with ``@odata.nextLink`` (full URL, keeps the query options)."""
        top = self._top(req, default_top, max_top)
        skip = 0
        token = req.query.get("$skiptoken")
        if token:
            try:
                skip = int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                raise GraphProblem(400, "BadRequest", "The specified $skiptoken is not valid.") from None
        if isinstance(items, Selection):
            page, total = items.page(skip, top), len(items)
        else:
            page, total = list(items[skip: skip + top]), len(items)
        body: dict[str, Any] = {"@odata.context": self._context(req, what)}
        if count and not token and req.query.get("$count", "").lower() == "true":
            body["@odata.count"] = total
        if skip + top < total:
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(f"demo:{skip + top}".encode()).decode()
            body["@odata.nextLink"] = f"{req.base}{req.path}?{urlencode(query, safe=_SAFE)}"
        body["value"] = [self._select(req, item, typed=typed) for item in page]
        return self._ok(body)

    # ----------------------------------------------------------------- endpoints

    def organization(self, req: Request) -> Reply:
        s = self.cloud.scenario
        domains = [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d == s.default_domain,
                    "isInitial": False, "name": d, "type": "Managed"} for d in s.domains]
        domains.append({"capabilities": "Email, OfficeCommunicationsOnline",
                        "isDefault": s.initial_domain == s.default_domain, "isInitial": True,
                        "name": s.initial_domain, "type": "Managed"})
        org: dict[str, Any] = {
            "id": s.tenant_id, "deletedDateTime": None, "businessPhones": ["+1 425 555 0100"], "city": "Redmond",
            "country": None, "countryLetterCode": s.country, "createdDateTime": s.created,
            "defaultUsageLocation": s.country, "displayName": s.display_name, "marketingNotificationEmails": [],
            "onPremisesLastSyncDateTime": None, "onPremisesSyncEnabled": None, "partnerTenantType": None,
            "postalCode": "98052", "preferredLanguage": "en", "securityComplianceNotificationMails": [],
            "securityComplianceNotificationPhones": [], "state": "WA", "street": "One Microsoft Way",
            "technicalNotificationMails": [s.operator.upn], "tenantType": "AAD",
            "directorySizeQuota": {"used": min(s.members + s.disabled_members + s.guests, 300000) + 120, "total": 300000},
            "assignedPlans": [], "privacyProfile": None, "provisionedPlans": [], "verifiedDomains": domains,
        }
        full = {"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
                "Directory.ReadWrite.All"}
        if not req.granted & full:
            # With User.Read only, Graph fills in id, displayName and verifiedDomains and nulls the rest.
            org = {k: (v if k in ("id", "displayName", "verifiedDomains") else
                       ([] if isinstance(v, list) else None)) for k, v in org.items()}
        return self._page(req, [org], "organization", default_top=100, max_top=999)

    def me(self, req: Request) -> Reply:
        body = {"@odata.context": self._context(req, "users/$entity"),
                **self.cloud.tenant.user_object(self.cloud.scenario.operator)}
        body.pop("@odata.type")
        return self._ok(self._select(req, body))

    def member_of(self, req: Request) -> Reply:
        return self._member_of(req, _MEMBER_OF, transitive=False)

    def transitive_member_of(self, req: Request) -> Reply:
        return self._member_of(req, _TRANSITIVE, transitive=True)

    def _member_of(self, req: Request, pattern: re.Pattern[str], *, transitive: bool) -> Reply:
        items = self.cloud.tenant.member_of(self.cloud.scenario.operator, transitive=transitive)
        cast = _captured(pattern, req.path[len("/v1.0"):].rstrip("/"))
        what = "directoryObjects"
        if cast:
            items = [i for i in items if i["@odata.type"].lower() == f"#microsoft.graph.{cast.lower()}"]
            what = "directoryRoles" if cast.lower() == "directoryrole" else "groups"
        node = self._filter(req, ("displayName", "id", "roleTemplateId"))
        items = [i for i in items if node is None or evaluate(node, getter(i))]
        return self._page(req, items, what, default_top=100, max_top=999, count=True, typed=True)

    def subscribed_skus(self, req: Request) -> Reply:
        if "$filter" in req.query:
            raise GraphProblem(400, "Request_UnsupportedQuery", "Filter is not supported on subscribedSkus.")
        s = self.cloud.scenario
        items = [{
            "accountName": s.display_name.split()[0], "accountId": s.tenant_id, "appliesTo": sku.applies_to,
            "capabilityStatus": sku.capability_status, "consumedUnits": sku.consumed,
            "id": f"{s.tenant_id}_{sku.sku_id}", "skuId": sku.sku_id, "skuPartNumber": sku.part_number,
            "subscriptionIds": [self.cloud.stable_uuid("subscription", s.tenant_id, sku.sku_id)],
            "prepaidUnits": {"enabled": sku.enabled, "suspended": sku.suspended, "warning": sku.warning,
                             "lockedOut": sku.locked_out},
            "servicePlans": [{"servicePlanId": p.id, "servicePlanName": p.name, "provisioningStatus": p.status,
                              "appliesTo": sku.applies_to} for p in sku.plans],
        } for sku in self.cloud.tenant.skus]
        return self._page(req, items, "subscribedSkus", default_top=999, max_top=999)

    def users(self, req: Request) -> Reply:
        node = self._filter(req, ("userType", "accountEnabled", "displayName", "userPrincipalName", "mail", "id",
                                  "givenName", "surname"))
        selection = self.cloud.tenant.users.select(node)
        return self._page(req, selection, "users", default_top=100, max_top=999, count=True)

    def users_count(self, req: Request) -> Reply:
        if req.headers.get("ConsistencyLevel", "").lower() != "eventual":
            raise GraphProblem(400, "Request_BadRequest",
                               "Count is not currently supported. Send the ConsistencyLevel: eventual header.")
        node = self._filter(req, ("userType", "accountEnabled", "displayName", "userPrincipalName", "mail", "id"))
        return text_reply(200, str(len(self.cloud.tenant.users.select(node))))

    def _partner_json(self, partner: Any, req: Request) -> dict[str, Any]:
        return {
            "tenantId": partner.tenant_id, "isServiceProvider": partner.is_service_provider,
            "isInMultiTenantOrganization": False,
            "inboundTrust": {"isMfaAccepted": partner.mfa_accepted,
                             "isCompliantDeviceAccepted": partner.compliant_device_accepted,
                             "isHybridAzureADJoinedDeviceAccepted": partner.hybrid_joined_accepted},
            "automaticUserConsentSettings": {"inboundAllowed": None, "outboundAllowed": None},
            "b2bCollaborationOutbound": None, "b2bCollaborationInbound": None,
            "b2bDirectConnectOutbound": None, "b2bDirectConnectInbound": None, "tenantRestrictions": None,
        }

    def partners(self, req: Request) -> Reply:
        items = [self._partner_json(p, req) for p in self.cloud.tenant.partners]
        return self._page(req, items, "policies/crossTenantAccessPolicy/partners", default_top=100, max_top=999)

    def partner(self, req: Request) -> Reply:
        wanted = _captured(_PARTNER, req.path[len("/v1.0"):]).lower()
        for p in self.cloud.tenant.partners:
            if p.tenant_id == wanted:
                body = {"@odata.context": self._context(req, "policies/crossTenantAccessPolicy/partners/$entity"),
                        **self._partner_json(p, req)}
                return self._ok(self._select(req, body))
        raise GraphProblem(404, "Request_ResourceNotFound",
                           f"Resource '{wanted}' does not exist or one of its queried reference-property objects "
                           f"are not present.")

    def tenant_information(self, req: Request) -> Reply:
        wanted = _captured(_TENANT_INFO, req.path[len("/v1.0"):]).lower()
        s = self.cloud.scenario
        info: tuple[str, str, str, str | None]
        if wanted == s.tenant_id:
            info = (s.tenant_id, s.display_name, s.initial_domain, None)
        elif wanted in self.cloud.tenant.known_tenants:
            k = self.cloud.tenant.known_tenants[wanted]
            info = (k.tenant_id, k.display_name, k.default_domain, k.federation_brand_name)
        else:
            raise GraphProblem(404, "Request_ResourceNotFound", f"Tenant '{wanted}' was not found.")
        return self._ok({"@odata.context": self._context(req, "microsoft.graph.tenantInformation"),
                         "tenantId": info[0], "federationBrandName": info[3], "displayName": info[1],
                         "defaultDomainName": info[2]})

    def ca_policies(self, req: Request) -> Reply:
        s = self.cloud.scenario
        node = self._filter(req, ("displayName", "state", "id"))
        items = []
        for p in self.cloud.tenant.ca_policies:
            external = None
            if p.guest_types:
                members = list(p.external_tenants)
                external = {"guestOrExternalUserTypes": p.guest_types, "externalTenants": {
                    "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants" if members else
                    "#microsoft.graph.conditionalAccessAllExternalTenants",
                    "membershipKind": "enumerated" if members else "all", **({"members": members} if members else {})}}
            items.append({
                "id": self.cloud.stable_uuid("capolicy", s.tenant_id, p.display_name),
                "templateId": None, "displayName": p.display_name, "createdDateTime": p.created,
                "modifiedDateTime": None, "state": p.state, "sessionControls": None,
                "conditions": {
                    "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"], "platforms": None,
                    "locations": None, "devices": None, "clientApplications": None,
                    "applications": {"includeApplications": ["All"], "excludeApplications": [],
                                     "includeUserActions": [], "includeAuthenticationContextClassReferences": []},
                    "users": {"includeUsers": list(p.include_users), "excludeUsers": [], "includeGroups": [],
                              "excludeGroups": [], "includeRoles": [], "excludeRoles": [],
                              "includeGuestsOrExternalUsers": external, "excludeGuestsOrExternalUsers": None},
                },
                "grantControls": {"operator": p.operator, "builtInControls": list(p.grant),
                                  "customAuthenticationFactors": [], "termsOfUse": [],
                                  "authenticationStrength": None},
            })
        if node is not None:
            items = [i for i in items if evaluate(node, getter(i))]
        return self._page(req, items, "identity/conditionalAccess/policies", default_top=100, max_top=999)

    def role_definitions(self, req: Request) -> Reply:
        node = self._filter(req, ("id", "templateId", "displayName", "isBuiltIn"))
        items = [d for d in self.cloud.tenant.role_definitions() if node is None or evaluate(node, getter(d))]
        return self._page(req, items, "roleManagement/directory/roleDefinitions", default_top=100, max_top=999)

    def role_assignments(self, req: Request) -> Reply:
        node = self._filter(req, ("roleDefinitionId", "principalId", "directoryScopeId", "id"))
        expand = {e.strip().lower() for e in req.query.get("$expand", "").split(",") if e.strip()}
        if expand - {"principal", "roledefinition"}:
            raise GraphProblem(400, "BadRequest", f"Could not find a property named '{sorted(expand)[0]}' on type "
                                                  f"'microsoft.graph.unifiedRoleAssignment'.")
        definitions = {d["id"]: d for d in self.cloud.tenant.role_definitions()}
        items = []
        for a in self.cloud.tenant.role_assignments():
            item: dict[str, Any] = {"id": a.id, "principalId": a.principal["id"], "roleDefinitionId": a.role_id,
                                    "directoryScopeId": "/"}
            if node is not None and not evaluate(node, getter(item)):
                continue
            if "principal" in expand:
                item["principal"] = a.principal
            if "roledefinition" in expand:
                item["roleDefinition"] = definitions[a.role_id]
            items.append(item)
        return self._page(req, items, "roleManagement/directory/roleAssignments", default_top=100, max_top=999)

    def group_settings(self, req: Request) -> Reply:
        items = []
        setting = self.cloud.tenant.group_creation
        if setting is not None:
            values = [("EnableMIPLabels", "false"), ("CustomBlockedWordsList", ""),
                      ("EnableMSStandardBlockedWords", "false"), ("ClassificationDescriptions", ""),
                      ("DefaultClassification", ""), ("PrefixSuffixNamingRequirement", ""),
                      ("AllowGuestsToBeGroupOwner", "false"), ("AllowGuestsToAccessGroups", "true"),
                      ("GuestUsageGuidelinesUrl", ""), ("GroupCreationAllowedGroupId", self._allowed_group_id()),
                      ("AllowToAddGuests", "true"), ("UsageGuidelinesUrl", ""), ("ClassificationList", ""),
                      ("EnableGroupCreation", "true" if setting else "false")]
            items.append({"id": self.cloud.stable_uuid("groupSetting", self.cloud.scenario.tenant_id),
                          "displayName": "Group.Unified", "templateId": GROUP_UNIFIED_TEMPLATE,
                          "values": [{"name": n, "value": v} for n, v in values]})
        return self._page(req, items, "groupSettings", default_top=100, max_top=999)

    def _allowed_group_id(self) -> str:
        name = self.cloud.tenant.group_creation_allowed_group
        return self.cloud.tenant.groups[name].id if name else ""

    def groups(self, req: Request) -> Reply:
        node = self._filter(req, GROUP_FILTERS)
        items = [self.cloud.tenant.group_object(name) for name in self.cloud.tenant.groups]
        items = [i for i in items if node is None or evaluate(node, getter(i))]
        return self._page(req, items, "groups", default_top=100, max_top=999, count=True)

    def group_members(self, req: Request) -> Reply:
        match = _GROUP_MEMBERS.match(req.path[len("/v1.0"):].rstrip("/"))
        members = self.cloud.tenant.group_members(match.group(1).lower()) if match else None
        if match is None or members is None:
            raise GraphProblem(404, "Request_ResourceNotFound",
                               f"Resource '{req.path}' does not exist or one of its queried reference-property "
                               f"objects are not present.")
        cast = match.group(2)
        if cast:
            members = [m for m in members if m["@odata.type"].lower() == f"#microsoft.graph.{cast.lower()}"]
        return self._page(req, members, "groups" if cast and cast.lower() == "group" else "directoryObjects",
                          default_top=100, max_top=999, count=True, typed=not cast)

    def license_details(self, req: Request) -> Reply:
        items = self.cloud.tenant.license_details(self.cloud.scenario.operator)
        return self._page(req, items, f"users('{self.cloud.scenario.operator.id}')/licenseDetails",
                          default_top=100, max_top=999)

    def health_issues(self, req: Request) -> Reply:
        """Shape of Graph v1.0 ``GET /security/identities/healthIssues`` (its documented example)."""
        node = self._filter(req, ("status", "severity", "healthIssueType", "displayName"))
        s = self.cloud.scenario
        items = []
        for issue in self.cloud.tenant.health_issues:
            item = {"@odata.type": "#microsoft.graph.security.healthIssue",
                    "id": self.cloud.stable_uuid("healthIssue", s.tenant_id, issue.display_name),
                    "additionalInformation": [], "createdDateTime": issue.created,
                    "description": f"{issue.display_name} on {s.default_domain}",
                    "displayName": issue.display_name, "domainNames": [s.default_domain],
                    "healthIssueType": issue.issue_type.capitalize(), "issueTypeId": "1031",
                    "lastModifiedDateTime": issue.created, "recommendations": [], "recommendedActionCommands": [],
                    "sensorDNSNames": [f"dc1.{s.default_domain}"] if issue.issue_type == "sensor" else [],
                    "severity": issue.severity, "status": issue.status}
            if node is None or evaluate(node, getter(item)):
                items.append(item)
        return self._page(req, items, "security/identities/healthIssues", default_top=100, max_top=999, count=True)

    def incidents(self, req: Request) -> Reply:
        """Shape of Graph v1.0 ``GET /security/incidents``: the most recent first, filterable on the
        documented properties only."""
        node = self._filter(req, ("assignedTo", "classification", "createdDateTime", "determination",
                                  "lastUpdateDateTime", "severity", "status"))
        s = self.cloud.scenario
        items = []
        for number, incident in enumerate(self.cloud.tenant.incidents):
            incident_id = str(2972395 + number)
            item = {"@odata.type": "#microsoft.graph.security.incident", "id": incident_id,
                    "incidentWebUrl": f"https://security.microsoft.com/incidents/{incident_id}?tid={s.tenant_id}",
                    "redirectIncidentId": None, "tenantId": s.tenant_id, "displayName": incident.display_name,
                    "createdDateTime": incident.created, "lastUpdateDateTime": incident.created,
                    "assignedTo": None, "classification": "unknown", "determination": "unknown",
                    "status": incident.status, "severity": incident.severity, "customTags": [],
                    "systemTags": list(incident.tags), "comments": [], "description": "", "summary": None}
            if node is None or evaluate(node, getter(item)):
                items.append(item)
        items.sort(key=lambda i: str(i["createdDateTime"]), reverse=True)
        return self._page(req, items, "security/incidents", default_top=50, max_top=50, count=True)

    def hunting_query(self, req: Request) -> Reply:
        try:
            body = req.json()
        except ValueError:
            raise GraphProblem(400, "BadRequest", "The request body is not valid JSON.") from None
        query = next((v for k, v in body.items() if k.lower() == "query"), None) if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise GraphProblem(400, "BadRequest", "The Query property is required.")
        timespan = next((v for k, v in body.items() if k.lower() == "timespan"), None)
        if timespan is not None and not (isinstance(timespan, str) and re.match(TIMESPAN, timespan)):
            raise GraphProblem(400, "BadRequest", "The Timespan property is not an ISO 8601 duration or interval.")
        try:
            schema, rows = run_hunting_query(query, self.cloud.tenant)
        except HuntingError as exc:
            raise GraphProblem(400, "BadRequest", str(exc)) from None
        return self._ok({"@odata.context": self._context(req, "microsoft.graph.security.huntingQueryResults"),
                         "schema": schema, "results": rows})

    # ----------------------------------------------------------------- $batch

    def batch(self, req: Request) -> Reply:
        try:
            payload = req.json()
        except ValueError:
            return self._error(req, 400, "BadRequest", "Invalid batch payload format.")
        requests_ = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests_, list) or not requests_:
            return self._error(req, 400, "BadRequest", "Invalid batch payload format.")
        if len(requests_) > MAX_BATCH:
            return self._error(req, 400, "BadRequest", f"The number of batch requests ({len(requests_)}) exceeds the "
                                                       f"maximum of {MAX_BATCH}.")
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in requests_]
        if "" in ids or len(set(ids)) != len(ids):
            return self._error(req, 400, "BadRequest", "Every batch request needs a unique id.")
        statuses: dict[str, int] = {}
        responses = []
        for item in requests_:
            response = self._batch_one(req, item, statuses)
            statuses[response["id"]] = response["status"]
            responses.append(response)
        random.Random(f"{self.cloud.scenario.name}/{'/'.join(ids)}").shuffle(responses)
        return self._ok({"responses": responses})

    def _batch_one(self, outer: Request, item: dict[str, Any], statuses: dict[str, int]) -> dict[str, Any]:
        rid = str(item["id"])
        depends = item.get("dependsOn") or []
        if any(statuses.get(str(d), 424) >= 400 for d in depends):
            return {"id": rid, "status": 424, "headers": {"Content-Type": "application/json"},
                    "body": {"error": {"code": "FailedDependency", "message": "Dependent request failed."}}}
        method = str(item.get("method", "GET")).upper()
        url = str(item.get("url", ""))
        if url.startswith("http"):
            return self._batch_reply(rid, self._error(outer, 400, "BadRequest",
                                                      "Batch request URLs must be relative, e.g. /me."))
        url = "/" + url.lstrip("/")
        headers = CaseInsensitiveDict({"Authorization": outer.headers.get("Authorization", "")})
        headers.update(item.get("headers") or {})
        body = item.get("body")
        raw = json.dumps(body).encode() if body is not None else b""
        inner = Request.parse(method, f"{outer.base}/v1.0{url}", headers, raw)
        inner.request_id = self.cloud.stable_uuid("batch", outer.request_id, rid)
        self.cloud.locate(inner)
        route = self.route(inner)
        if route is None or route[0] == "graph.batch":
            return self._batch_reply(rid, self._error(inner, 400, "BadRequest",
                                                      f"Resource not found for the segment '{url.strip('/')}'."))
        endpoint, handler = route
        fault = self.cloud.inner_fault(endpoint)
        if fault is not None:
            reply = self.cloud.error_for(inner, fault.status, retry_after=fault.retry_after,
                                         announce=fault.kind == "throttle")
        else:
            reply = handler(inner)
        return self._batch_reply(rid, reply)

    def _batch_reply(self, rid: str, reply: Reply) -> dict[str, Any]:
        content_type = reply.headers.get("Content-Type", "")
        headers = {"Content-Type": content_type.split(";")[0] if "json" in content_type else content_type}
        if "Retry-After" in reply.headers:
            headers["Retry-After"] = reply.headers["Retry-After"]
        body: Any = reply.json() if "json" in content_type else reply.body.decode("utf-8")
        return {"id": rid, "status": reply.status, "headers": headers, "body": body}
