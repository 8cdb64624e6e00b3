"""The fake tenant's mutable state: organisation, users, groups, roles, SKUs, devices, cross-tenant
partners and Conditional Access policies, built from a scenario. Users and devices are generated
on demand (see ``lazy``); everything else is small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dex_tui.demo.catalogue import EXPERTS_SKUS, ROLE_DESCRIPTIONS, ROLE_TEMPLATES
from dex_tui.demo.lazy import LazyCollection, Segment
from dex_tui.demo.scenario import (
    CaPolicy,
    DeviceGroup,
    Group,
    HealthIssue,
    Incident,
    KnownTenant,
    Partner,
    Person,
    Scenario,
    ServicePlan,
    Sku,
    stable_id,
)
from dex_tui.records import dataclass

_FIRST = ("Adele", "Alex", "Allan", "Christie", "Debra", "Diego", "Emily", "Enrico", "Grady", "Henrietta",
          "Irvin", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor",
          "Patti", "Pradeep", "Raul", "Sanjay", "Tomas", "Wilna", "Yuki", "Zrinka", "Aiko", "Bruno")
_LAST = ("Vance", "Wilber", "Deyoung", "Cline", "Berg", "Siciliani", "Braun", "Catteneo", "Archie",
         "Mueller", "Sayers", "Sanders", "Lauer", "Sherman", "Gu", "Holloway", "Robbins", "Bowen",
         "Hooper", "Motte", "Fernandez", "Gupta", "Razo", "Shah", "Novak", "Smit", "Tanaka", "Kovac",
         "Ito", "Costa")
_GUEST_DOMAINS = ("fabrikam.com", "tailspintoys.com", "northwindtraders.com", "adatum.com")
_SHARED_MAILBOXES = ("Reception", "Sales", "Support", "Invoices", "Careers", "Facilities", "Press", "Payroll")


def machine_id(tenant_id: str, name: str) -> str:
    """A 40-hex-digit Defender for Endpoint machine id, stable per device name."""
    return hashlib.sha1(f"{tenant_id}/{name}".encode()).hexdigest()


@dataclass
class RoleAssignment:
    id: str
    role_id: str
    principal: dict[str, Any]


class TenantState:
    """Everything Graph and MDE read, for one fake tenant; the portal simulation changes it."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.skus: list[Sku] = list(scenario.skus)
        self.partners: list[Partner] = list(scenario.partners)
        self.ca_policies: list[CaPolicy] = list(scenario.ca_policies)
        self.known_tenants: dict[str, KnownTenant] = {k.tenant_id: k for k in scenario.known_tenants}
        self.group_creation = scenario.group_creation
        self.people: tuple[Person, ...] = (scenario.operator, *scenario.people)
        self.groups = {g.display_name: g for g in scenario.groups}
        self.group_creation_allowed_group = scenario.group_creation_allowed_group
        self.health_issues: list[HealthIssue] = list(scenario.health_issues)
        self.incidents: list[Incident] = list(scenario.incidents)
        self.users = self._users()
        self.machines, self.av_info = self._devices()
        experts = scenario.experts
        self.known_tenants.setdefault(experts.tenant_id, KnownTenant(
            experts.tenant_id, experts.display_name, experts.default_domain, None))
        if experts.access_granted:
            self.give_access()
        for service in experts.licences_ordered:
            self.order_licence(service)

    # ----------------------------------------------------------------- roles

    def role_names_of(self, person: Person, *, transitive: bool) -> list[str]:
        names = list(person.roles)
        if transitive:
            for group in person.groups:
                names.extend(self.groups[group].roles)
        return list(dict.fromkeys(names))

    def operator_role_ids(self) -> list[str]:
        return [ROLE_TEMPLATES[n] for n in self.role_names_of(self.scenario.operator, transitive=True)]

    def directory_role(self, name: str) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.directoryRole",
                "id": stable_id(self.scenario.tenant_id, "directoryRole", name), "deletedDateTime": None,
                "description": ROLE_DESCRIPTIONS[name], "displayName": name,
                "roleTemplateId": ROLE_TEMPLATES[name]}

    def group_object(self, name: str) -> dict[str, Any]:
        g = self.groups[name]
        nickname = "".join(ch for ch in g.display_name if ch.isalnum()) or "group"
        synced = "2025-06-02T08:41:10Z" if g.synced else None
        return {"@odata.type": "#microsoft.graph.group", "id": g.id, "deletedDateTime": None,
                "classification": None, "createdDateTime": self.scenario.created, "description": g.description or None,
                "displayName": g.display_name, "groupTypes": ["Unified"] if g.unified else [],
                "isAssignableToRole": g.role_assignable,
                "mail": f"{nickname}@{self.scenario.initial_domain}" if g.unified else None,
                "mailEnabled": g.unified, "mailNickname": nickname, "securityEnabled": g.security_enabled,
                "onPremisesSyncEnabled": True if g.synced else None, "onPremisesLastSyncDateTime": synced,
                "securityIdentifier": None, "visibility": "Private" if g.unified else None}

    def group_members(self, group_id: str) -> list[dict[str, Any]] | None:
        """Direct members of the group with ``group_id`` (users and nested groups); None when unknown."""
        group = next((g for g in self.groups.values() if g.id == group_id), None)
        if group is None:
            return None
        users = [self.user_object(p) for p in self.people if group.display_name in p.groups]
        return users + [self.group_object(name) for name in group.member_groups]

    def license_details(self, person: Person) -> list[dict[str, Any]]:
        """``/me/licenseDetails``: the SKUs assigned to ``person`` with their service plans."""
        out = []
        for sku in self.skus:
            if sku.part_number in person.licenses:
                out.append({"id": f"{person.id}_{sku.sku_id}", "skuId": sku.sku_id, "skuPartNumber": sku.part_number,
                            "servicePlans": [{"servicePlanId": p.id, "servicePlanName": p.name,
                                              "provisioningStatus": p.status, "appliesTo": "User"}
                                             for p in sku.plans]})
        return out


    def member_of(self, person: Person, *, transitive: bool) -> list[dict[str, Any]]:
        objects = [self.group_object(g) for g in person.groups]
        objects += [self.directory_role(r) for r in self.role_names_of(person, transitive=transitive)]
        return objects

    def role_assignments(self) -> list[RoleAssignment]:
        out = []
        for person in self.people:
            for role in person.roles:
                out.append(self._assignment(role, self.user_object(person), person.id))
        for group in self.groups.values():
            for role in group.roles:
                out.append(self._assignment(role, self.group_object(group.display_name), group.id))
        return out

    def _assignment(self, role: str, principal: dict[str, Any], principal_id: str) -> RoleAssignment:
        template = ROLE_TEMPLATES[role]
        # Graph's assignment ids look like a base64 string built from role and principal; ours are stable.
        raw = hashlib.sha256(f"{template}/{principal_id}".encode()).hexdigest()[:43]
        return RoleAssignment(id=raw, role_id=template, principal=principal)

    def role_definitions(self) -> list[dict[str, Any]]:
        return [{"id": template, "description": ROLE_DESCRIPTIONS[name], "displayName": name,
                 "isBuiltIn": True, "isEnabled": True, "resourceScopes": ["/"], "templateId": template,
                 "version": "1", "rolePermissions": [], "inheritsPermissionsFrom": []}
                for name, template in ROLE_TEMPLATES.items()]

    # ----------------------------------------------------------------- users

    def user_object(self, person: Person) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.user", "id": person.id, "businessPhones": [],
                "displayName": person.display_name, "givenName": person.given_name or None,
                "jobTitle": person.job_title or None, "mail": person.upn, "mobilePhone": None,
                "officeLocation": None, "preferredLanguage": "en-US", "surname": person.surname or None,
                "userPrincipalName": person.upn, "userType": "Member", "accountEnabled": True}

    def _users(self) -> LazyCollection:
        s = self.scenario
        people = self.people
        generated = s.members - len(people)
        domain = s.default_domain
        tid = s.tenant_id

        def named(i: int) -> dict[str, Any]:
            return self.user_object(people[i])

        def member(i: int) -> dict[str, Any]:
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
            upn = f"{first.lower()}.{last.lower()}{i + 1}@{domain}"
            return {"@odata.type": "#microsoft.graph.user", "id": stable_id(tid, "user", upn), "businessPhones": [],
                    "displayName": f"{first} {last}", "givenName": first, "jobTitle": None, "mail": upn,
                    "mobilePhone": None, "officeLocation": None, "preferredLanguage": "en-US", "surname": last,
                    "userPrincipalName": upn, "userType": "Member", "accountEnabled": True}

        def disabled_member(i: int) -> dict[str, Any]:
            """A shared mailbox: a member account that cannot sign in and needs no Entra ID licence."""
            name = _SHARED_MAILBOXES[i % len(_SHARED_MAILBOXES)]
            upn = f"{name.lower()}{i // len(_SHARED_MAILBOXES) or ''}@{domain}"
            return {"@odata.type": "#microsoft.graph.user", "id": stable_id(tid, "shared", upn), "businessPhones": [],
                    "displayName": f"{name} (shared mailbox)", "givenName": None, "jobTitle": None, "mail": upn,
                    "mobilePhone": None, "officeLocation": None, "preferredLanguage": "en-US", "surname": None,
                    "userPrincipalName": upn, "userType": "Member", "accountEnabled": False}

        def guest(i: int) -> dict[str, Any]:
            first, last = _FIRST[(i * 7) % len(_FIRST)], _LAST[(i * 11) % len(_LAST)]
            home = _GUEST_DOMAINS[i % len(_GUEST_DOMAINS)]
            mail = f"{first.lower()}.{last.lower()}{i + 1}@{home}"
            upn = f"{mail.replace('@', '_')}#EXT#@{s.initial_domain}"
            return {"@odata.type": "#microsoft.graph.user", "id": stable_id(tid, "guest", mail), "businessPhones": [],
                    "displayName": f"{first} {last} ({home})", "givenName": first, "jobTitle": None, "mail": mail,
                    "mobilePhone": None, "officeLocation": None, "preferredLanguage": None, "surname": last,
                    "userPrincipalName": upn, "userType": "Guest", "accountEnabled": True}

        shared_member = {"usertype": "Member", "accountenabled": True}
        return LazyCollection([
            Segment(len(people), named, shared_member),
            Segment(generated, member, shared_member),
            Segment(s.disabled_members, disabled_member, {"usertype": "Member", "accountenabled": False}),
            Segment(s.guests, guest, {"usertype": "Guest", "accountenabled": True}),
        ])

    # ----------------------------------------------------------------- devices

    def _devices(self) -> tuple[LazyCollection, LazyCollection]:
        machines, av = [], []
        for number, group in enumerate(self.scenario.devices):
            machines.append(Segment(group.count, self._machine_maker(number, group), self._machine_shared(number, group)))
            if group.onboarding == "Onboarded":
                av.append(Segment(group.count, self._av_maker(number, group), self._av_shared(number, group)))
        return LazyCollection(machines), LazyCollection(av)

    def _rbac_group_id(self, group: DeviceGroup) -> int:
        return int(hashlib.sha1(group.rbac_group.encode()).hexdigest()[:6], 16) % 9000 + 1000

    def _machine_shared(self, number: int, group: DeviceGroup) -> dict[str, Any]:
        return {"osplatform": group.os_platform, "onboardingstatus": group.onboarding,
                "healthstatus": group.health, "rbacgroupname": group.rbac_group,
                "rbacgroupid": self._rbac_group_id(group), "exposurelevel": group.exposure,
                "riskscore": group.risk, "devicevalue": "Normal", "version": _os_release(group.os_version),
                "lastseen": self._last_seen(number), "osprocessor": "x64"}

    def _av_shared(self, number: int, group: DeviceGroup) -> dict[str, Any]:
        return {"oskind": group.os_kind, "osplatform": group.os_platform, "osversion": group.os_version,
                "avmode": group.av_mode, "rbacgroupid": str(self._rbac_group_id(group)),
                "avissignatureuptodate": "True", "avisengineuptodate": "True", "avisplatformuptodate": "True",
                "quickscanresult": "Completed", "fullscanresult": "", "avsignatureversion": "1.421.1130.0",
                "avengineversion": "1.1.24090.11", "avplatformversion": "4.18.24090.11"}

    def _last_seen(self, number: int) -> str:
        """Fixed, scenario-dated: each device group last reported on the scenario's day, an hour apart."""
        return f"{self.scenario.now[:10]}T{7 - number % 7:02d}:12:44.1872331Z"

    def device_name(self, group: DeviceGroup, index: int) -> str:
        host = group.name.format(n=index + 1).lower()
        return f"{host}.{self.scenario.default_domain}"

    def _machine_maker(self, number: int, group: DeviceGroup) -> Callable[[int], dict[str, Any]]:
        tid = self.scenario.tenant_id
        created = self.scenario.created
        shared = self._machine_shared(number, group)

        def make(index: int) -> dict[str, Any]:
            name = self.device_name(group, index)
            mid = machine_id(tid, name)
            octet3, octet4 = (index // 250) % 250 + 1, index % 250 + 4
            onboarded = group.onboarding == "Onboarded"
            return {
                "id": mid, "computerDnsName": name, "firstSeen": created[:10] + "T10:03:51.2231121Z",
                "lastSeen": shared["lastseen"], "osPlatform": group.os_platform, "osVersion": None,
                "osProcessor": "x64", "version": shared["version"],
                "lastIpAddress": f"10.{number % 250}.{octet3}.{octet4}",
                "lastExternalIpAddress": f"203.0.113.{(number * 17) % 250 + 1}",
                "agentVersion": "10.8760.22621.1016" if onboarded else None,
                "osBuild": _os_build(group.os_version), "healthStatus": group.health, "deviceValue": "Normal",
                "rbacGroupId": shared["rbacgroupid"], "rbacGroupName": group.rbac_group,
                "riskScore": group.risk, "exposureLevel": group.exposure, "isAadJoined": onboarded,
                "aadDeviceId": stable_id(tid, "aadDevice", name) if onboarded else None,
                "machineTags": list(group.tags), "defenderAvStatus": "Updated" if onboarded else "NotSupported",
                "onboardingStatus": group.onboarding, "osArchitecture": "64-bit", "managedBy": "Intune",
                "managedByStatus": "Success", "ipAddresses": [
                    {"ipAddress": f"10.{number % 250}.{octet3}.{octet4}", "macAddress": f"00155D{index:06X}"[-12:],
                     "type": "Ethernet", "operationalStatus": "Up"}],
                "vmMetadata": None,
            }

        return make

    def _av_maker(self, number: int, group: DeviceGroup) -> Callable[[int], dict[str, Any]]:
        tid = self.scenario.tenant_id
        shared = self._av_shared(number, group)
        refreshed = self.scenario.now[:10] + "T06:00:00Z"

        def make(index: int) -> dict[str, Any]:
            name = self.device_name(group, index)
            mid = machine_id(tid, name)
            return {
                "id": f"{mid}_{index}", "machineId": mid, "computerDnsName": name, "osKind": group.os_kind,
                "osPlatform": group.os_platform, "osVersion": group.os_version, "avMode": group.av_mode,
                "avSignatureVersion": shared["avsignatureversion"], "avEngineVersion": shared["avengineversion"],
                "avPlatformVersion": shared["avplatformversion"], "avIsSignatureUpToDate": "True",
                "avIsEngineUpToDate": "True", "avIsPlatformUpToDate": "True",
                "avSignaturePublishTime": refreshed, "avEngineUpdateTime": refreshed,
                "avPlatformUpdateTime": refreshed, "quickScanResult": "Completed", "quickScanError": "",
                "quickScanTime": refreshed, "fullScanResult": "", "fullScanError": "", "fullScanTime": None,
                "lastSeenTime": self._last_seen(number), "dataRefreshTimestamp": refreshed,
                "avModeDataRefreshTime": refreshed, "rbacGroupId": shared["rbacgroupid"],
                "rbacGroupName": group.rbac_group,
            }

        return make

    # ----------------------------------------------------------------- portal changes

    def order_licence(self, service: str) -> Sku:
        """Add the (ASSUMED) Defender Experts SKU for ``service``; idempotent."""
        info = EXPERTS_SKUS[service]
        for sku in self.skus:
            if sku.sku_id == info.sku_id:
                return sku
        seats = max(1, self.scenario.members)
        sku = Sku(part_number=info.part_number, sku_id=info.sku_id, applies_to="Company",
                  capability_status="Enabled", enabled=seats, suspended=0, warning=0, locked_out=0, consumed=0,
                  plans=(ServicePlan(info.plan_name, info.plan_id, "Success"),))
        self.skus.append(sku)
        return sku

    def give_access(self) -> None:
        """The service-provider partner (MFA + compliant device trusted) and the two
        ``Microsoft Security Experts-*`` CA policies; idempotent."""
        experts = self.scenario.experts
        partner = Partner(tenant_id=experts.tenant_id, is_service_provider=True, mfa_accepted=True,
                          compliant_device_accepted=True, hybrid_joined_accepted=False)
        self.partners = [p for p in self.partners if p.tenant_id != experts.tenant_id] + [partner]
        existing = {p.display_name for p in self.ca_policies}
        grants = (("mfa", "compliantDevice"), ("block",))
        for name, grant in zip(experts.ca_policy_names, grants, strict=True):
            if name not in existing:
                self.ca_policies.append(CaPolicy(display_name=name, state="enabled", guest_types="serviceProvider",
                                                 external_tenants=(experts.tenant_id,), grant=grant,
                                                 operator="AND", include_users=(), created=self.scenario.now))

    def add_group(self, name: str, *, unified: bool = False, description: str = "") -> Group:
        """A new cloud group (as the portal or Teams would create it); idempotent by name."""
        if name not in self.groups:
            self.groups[name] = Group(id=stable_id(self.scenario.tenant_id, "group", name), display_name=name,
                                      description=description, roles=(), role_assignable=False,
                                      security_enabled=not unified, unified=unified)
        return self.groups[name]

    def add_incident(self, incident: Incident) -> None:
        if incident not in self.incidents:
            self.incidents.append(incident)

    def set_ca_policy_state(self, name: str, state: str) -> None:
        self.ca_policies = [replace(p, state=state) if p.display_name == name else p for p in self.ca_policies]


def _os_release(os_version: str) -> str:
    """The ``version`` MDE shows: the Windows feature release, or major.minor elsewhere."""
    build = _os_build(os_version)
    if build is None:
        return ".".join(os_version.split(".")[:2])
    return {22631: "23H2", 22621: "22H2", 26100: "24H2", 19045: "22H2", 20348: "21H2", 17763: "1809"}.get(build, "")


def _os_build(os_version: str) -> int | None:
    """The Windows build number of ``10.0.<build>.<revision>``; None for other systems."""
    parts = os_version.split(".")
    if len(parts) >= 3 and parts[:2] == ["10", "0"] and parts[2].isdigit():
        return int(parts[2])
    return None
