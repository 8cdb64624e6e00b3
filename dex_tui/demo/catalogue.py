"""Microsoft identifiers the fake cloud uses: directory roles, service plans, SKUs, and which delegated
permission (and directory role) each Graph or Defender for Endpoint read needs.

Every GUID here comes from reference/domain.md §4.3, §4.4 and §4.10, except the Defender Experts
SKUs, whose part numbers and GUIDs are not published by Microsoft: the fake's ones are ASSUMED and
say so in their names.
"""

from __future__ import annotations

from dex_tui.directory_roles import ROLE_NAMES
from dex_tui.records import dataclass

# Directory roles: display name -> role template id (domain.md §4.10). Built-in roleDefinitionId
# equals the template id.
ROLE_TEMPLATES: dict[str, str] = {name: template_id for template_id, name in ROLE_NAMES.items()}

ROLE_DESCRIPTIONS: dict[str, str] = {
    "Global Administrator": "Can manage all aspects of Microsoft Entra ID and Microsoft services that use "
                            "Microsoft Entra identities.",
    "Security Administrator": "Can read security information and reports, and manage configuration in "
                              "Microsoft Entra ID and Office 365.",
    "Security Operator": "Creates and manages security events.",
    "Security Reader": "Can read security information and reports in Microsoft Entra ID and Office 365.",
    "Global Reader": "Can read everything that a Global Administrator can, but not update anything.",
    "Application Administrator": "Can create and manage all aspects of app registrations and enterprise apps.",
    "Directory Readers": "Can read basic directory information. Commonly used to grant directory read "
                         "access to applications and guests.",
    "Conditional Access Administrator": "Can manage Conditional Access capabilities.",
    "Privileged Role Administrator": "Can manage role assignments in Microsoft Entra ID, and all aspects of "
                                     "Privileged Identity Management.",
    "Teams Administrator": "Can manage the Microsoft Teams service.",
}

# Service plans: servicePlanName -> servicePlanId (domain.md §4.3, Microsoft's licensing reference).
SERVICE_PLANS: dict[str, str] = {
    "WINDEFATP": "871d91ec-ec1a-452b-a83f-bd76c7d770ef",
    "MDE_LITE": "292cc034-7b7c-4950-aaf5-943befd3f1d4",
    "MDE_SMB": "bfc1bbd9-981b-4f71-9b82-17c35fd0e2a4",
    "AAD_PREMIUM": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
    "AAD_PREMIUM_P2": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
    "THREAT_INTELLIGENCE": "8e0c0a52-6a6c-4d40-8370-dd62790dcd70",
    "THREAT_INTELLIGENCE_GOV": "900018f1-0cdb-4ecb-94d4-90281760fdc6",
    "ATP_ENTERPRISE": "f20fedf3-f3c3-43c3-8267-2bfdd51c0939",
    "ATP_ENTERPRISE_GOV": "493ff600-6a2b-4db6-ad37-a7d4eb214516",
    "ATA": "14ab5db5-e6c4-4b20-b4bc-13e36fd2227f",
    "ADALLOM_S_STANDALONE": "2e2ddb96-6af9-4b1d-a3f0-d6ecfd22edb2",
    "ADALLOM_S_O365": "8c098270-9dd4-4350-9b30-ba4703f3b36b",
    "ADALLOM_S_DISCOVERY": "932ad362-64a8-4783-9106-97849a1a30b9",
    "ADALLOM_FOR_AATP": "61d18b02-6889-479f-8f36-56e6e0fe5792",
    "Defender_for_Iot_Enterprise": "99cd49a9-0e54-4e07-aea1-d8d9f5f704f5",
    "MTP": "bf28f719-7844-4079-9c78-c1307898e192",
    "TVM_PREMIUM_1": "36810a13-b903-490a-aa45-afbeb7540832",
    # Microsoft Teams (in E3/E5 "with Teams"); the id matches Microsoft's Business Central Teams docs.
    "TEAMS1": "57ff2da0-773e-42df-b2af-ffb7a2317929",
}

# SKUs: skuPartNumber -> skuId (domain.md §4.4; the last four are corroborated by third parties only).
SKUS: dict[str, str] = {
    "WIN_DEF_ATP": "111046dd-295b-4d6d-9724-d52ac90bd1f2",
    "DEFENDER_ENDPOINT_P1": "16a55f2f-ff35-4cd5-9146-fb784e3761a5",
    "MDATP_Server": "509e8ab6-0274-4cda-bcbd-bd164fd562c4",
    "MDATP_XPLAT": "b126b073-72db-4a9d-87a4-b17afe41d4ab",
    "ATA": "98defdf7-f6c1-44f5-a1f6-943b6764e7a5",
    "ADALLOM_STANDALONE": "df845ce7-05f9-4894-b5f2-11bbfbcfd2b6",
    "AAD_PREMIUM": "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
    "AAD_PREMIUM_P2": "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
    "THREAT_INTELLIGENCE_GOV": "56a59ffb-9df1-421b-9e61-8b568583474d",
    "SPE_E5_NOPSTNCONF": "cd2925a3-5076-4233-8931-638a8c94f773",
    "SPE_F5_SEC": "67ffe999-d9ca-49e1-9d2c-03fb28aa7a48",
    "MDE_SMB": "5e1e7702-a2b7-4360-8d07-2f515792896f",
    "THREAT_INTELLIGENCE": "3dd6cf57-d688-4eed-ba52-9e40b5468c3e",
    "ATP_ENTERPRISE": "4ef96642-f096-40de-a3e9-d83fb2f90211",
    "SPE_E5": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    "IDENTITY_THREAT_PROTECTION": "26124093-3d78-432b-b5dc-48bf992543d5",
}


@dataclass(frozen=True)
class ExpertsSku:
    """The SKU the portal simulation adds when a Defender Experts licence is ordered.

    Microsoft publishes no Defender Experts part number or SKU GUID (domain.md §4.4, §6.14): both
    values below are ASSUMED, made up for the demo, and must never be matched by a real check.
    """

    part_number: str
    sku_id: str
    plan_name: str
    plan_id: str


EXPERTS_SKUS: dict[str, ExpertsSku] = {
    "xdr": ExpertsSku("DEFENDER_EXPERTS_XDR_ASSUMED", "0de0e7a5-0000-4000-8000-00000000a5d1",
                      "DEFENDER_EXPERTS_XDR_PLAN_ASSUMED", "0de0e7a5-0000-4000-8000-00000000a5d2"),
    "hunting": ExpertsSku("DEFENDER_EXPERTS_HUNTING_ASSUMED", "0de0e7a5-0000-4000-8000-00000000a5e1",
                          "DEFENDER_EXPERTS_HUNTING_PLAN_ASSUMED", "0de0e7a5-0000-4000-8000-00000000a5e2"),
}

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class Permission:
    """What one read needs: the least-privileged delegated permission (any of ``accepted`` satisfies it)
    and, when not empty, one of the directory roles in ``roles`` (None: any member user). An app-only
    token (client credentials) needs one of the application permissions in ``app`` instead, and no
    role (an application holds none); an empty ``app`` means the read needs a signed-in user."""

    least: str
    accepted: frozenset[str]
    roles: frozenset[str] | None = None
    app: frozenset[str] = frozenset()


# Delegated-only permissions: the user's own profile, and a basic read that has no application twin.
_DELEGATED_ONLY = frozenset({"User.Read", "User.ReadWrite", "User.ReadBasic.All"})


def _perm(least: str, *higher: str, roles: tuple[str, ...] | None = None,
          app: tuple[str, ...] | None = None) -> Permission:
    accepted = frozenset((least, *higher))
    return Permission(least, accepted, None if roles is None else frozenset(ROLE_TEMPLATES[r] for r in roles),
                      accepted - _DELEGATED_ONLY if app is None else frozenset(app))


_READ_ROLES = ("Global Administrator", "Global Reader")
_SECURITY_READ = (*_READ_ROLES, "Security Administrator", "Security Operator", "Security Reader")

# Endpoint name -> permission (our own table, from domain.md §4.2-§4.17; a higher permission also
# satisfies the least-privileged one, as in Graph's permission tables).
PERMISSIONS: dict[str, Permission] = {
    "graph.organization": _perm("User.Read", "Organization.Read.All", "Organization.ReadWrite.All",
                                "Directory.Read.All", "Directory.ReadWrite.All"),
    "graph.me": _perm("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All",
                      "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", app=()),
    "graph.memberOf": _perm("User.Read", "GroupMember.Read.All", "Group.Read.All", "User.Read.All",
                            "Directory.Read.All", "Directory.ReadWrite.All", app=()),
    "graph.transitiveMemberOf": _perm("User.Read", "GroupMember.Read.All", "Group.Read.All", "User.Read.All",
                                      "Directory.Read.All", "Directory.ReadWrite.All", app=()),
    "graph.subscribedSkus": _perm("LicenseAssignment.Read.All", "Organization.Read.All",
                                  "Organization.ReadWrite.All", "Directory.Read.All",
                                  "Directory.ReadWrite.All"),
    "graph.users": _perm("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                         "Directory.ReadWrite.All"),
    "graph.usersCount": _perm("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
                              "Directory.Read.All", "Directory.ReadWrite.All"),
    "graph.partners": _perm("Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess",
                            roles=(*_SECURITY_READ, "Conditional Access Administrator")),
    "graph.partner": _perm("Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess",
                           roles=(*_SECURITY_READ, "Conditional Access Administrator")),
    "graph.tenantInformation": _perm("CrossTenantInformation.ReadBasic.All"),
    "graph.caPolicies": _perm("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess",
                              roles=(*_SECURITY_READ, "Conditional Access Administrator")),
    "graph.roleDefinitions": _perm("RoleManagement.Read.Directory", "RoleManagement.Read.All",
                                   "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                                   "Directory.ReadWrite.All"),
    "graph.roleAssignments": _perm("RoleManagement.Read.Directory", "RoleManagement.Read.All",
                                   "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                                   "Directory.ReadWrite.All",
                                   roles=(*_SECURITY_READ, "Directory Readers", "Privileged Role Administrator")),
    "graph.groupSettings": _perm("GroupSettings.Read.All", "GroupSettings.ReadWrite.All", "Directory.Read.All",
                                 "Directory.ReadWrite.All"),
    "graph.huntingQuery": _perm("ThreatHunting.Read.All", roles=_SECURITY_READ),
    # Today's flows (reference/mdr-today.md): groups and their members (exclusions, scoped coverage, the
    # Defender Experts team), the operator's own licences (Teams), Defender for Identity health issues and
    # incidents (the Hunting sample notification).
    "graph.groups": _perm("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
                          "Directory.ReadWrite.All"),
    "graph.groupMembers": _perm("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
                                "Directory.Read.All", "Directory.ReadWrite.All"),
    "graph.licenseDetails": _perm("User.Read", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                                  "Directory.ReadWrite.All"),
    "graph.healthIssues": _perm("SecurityIdentitiesHealth.Read.All", "SecurityIdentitiesHealth.ReadWrite.All",
                                roles=_SECURITY_READ),
    "graph.incidents": _perm("SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All", roles=_SECURITY_READ),
    "mde.machines": _perm("Machine.Read", "Machine.ReadWrite", roles=_SECURITY_READ,
                          app=("Machine.Read.All", "Machine.ReadWrite.All")),
    "mde.deviceavinfo": _perm("Machine.Read", "Machine.ReadWrite", roles=_SECURITY_READ,
                              app=("Machine.Read.All", "Machine.ReadWrite.All")),
}

# Every delegated Graph permission name the fake knows; an unknown one is refused at sign-in.
GRAPH_PERMISSION_NAMES: frozenset[str] = frozenset(
    name for key, p in PERMISSIONS.items() if key.startswith("graph.") for name in p.accepted
) | frozenset({"Group.Read.All", "GroupMember.Read.All", "email", "User.ReadBasic.All"})

MDE_PERMISSION_NAMES: frozenset[str] = frozenset({"Machine.Read", "Machine.ReadWrite"})

# Application permissions the fake knows (a scenario's [[applications]] may be granted these).
GRAPH_APP_PERMISSION_NAMES: frozenset[str] = frozenset(
    name for key, p in PERMISSIONS.items() if key.startswith("graph.") for name in p.app)
MDE_APP_PERMISSION_NAMES: frozenset[str] = frozenset(
    name for key, p in PERMISSIONS.items() if key.startswith("mde.") for name in p.app)
