"""The least-privileged, read-only delegated permissions the checks need (reference/domain.md §4.17),
and which Graph or Defender for Endpoint read needs which permission and directory role.
"""

from __future__ import annotations

from dex_tui.records import dataclass

# Asked once, together, for the Graph resource (MSAL adds openid, profile and offline_access itself).
GRAPH_SCOPES: tuple[str, ...] = (
    "User.Read",
    "Organization.Read.All",
    "LicenseAssignment.Read.All",
    "Policy.Read.All",
    "CrossTenantInformation.ReadBasic.All",
    "RoleManagement.Read.Directory",
    "User.ReadBasic.All",
    "GroupSettings.Read.All",
    "GroupMember.Read.All",
    "ThreatHunting.Read.All",
    "SecurityIdentitiesHealth.Read.All",  # MDR readiness: Defender for Identity health issues
    "SecurityIncident.Read.All",  # Hunting: the sample notification's test incident
)

# Asked separately and silently for the Defender for Endpoint resource (one resource per token).
MDE_SCOPE_NAME = "Machine.Read"


def mde_scopes(mde_resource: str) -> list[str]:
    """The MDE delegated scope for a resource App ID URI, e.g. ``https://api.securitycenter.microsoft.com``."""
    return [f"{mde_resource.rstrip('/')}/{MDE_SCOPE_NAME}"]


@dataclass(frozen=True)
class Requirement:
    """What one read needs: a delegated permission, and the directory roles that may consent or read."""

    permission: str
    reader_roles: str = ""
    consent_role: str = "Global Administrator, Privileged Role Administrator or Cloud Application Administrator"


# Read name -> requirement; used to explain a 403 in plain words.
REQUIREMENTS: dict[str, Requirement] = {
    "organization": Requirement("Organization.Read.All"),
    "me": Requirement("User.Read", consent_role="any user (no admin consent needed)"),
    "member_of": Requirement("User.Read", consent_role="any user (no admin consent needed)"),
    "subscribed_skus": Requirement("LicenseAssignment.Read.All", "Global Reader or Directory Readers"),
    "user_count": Requirement("User.ReadBasic.All"),
    "partners": Requirement("Policy.Read.All", "Security Reader, Global Reader or Security Administrator"),
    "tenant_information": Requirement("CrossTenantInformation.ReadBasic.All"),
    "ca_policies": Requirement("Policy.Read.All", "Security Reader, Global Reader or Conditional Access Administrator"),
    "role_definitions": Requirement("RoleManagement.Read.Directory", "Directory Readers or Global Reader"),
    "role_assignments": Requirement("RoleManagement.Read.Directory", "Directory Readers or Global Reader"),
    "group_settings": Requirement("GroupSettings.Read.All"),
    "hunting": Requirement("ThreatHunting.Read.All", "Security Reader or Security Administrator"),
    "machines": Requirement(MDE_SCOPE_NAME, "a Defender for Endpoint role with View Data"),
    "device_groups": Requirement(MDE_SCOPE_NAME, "a Defender for Endpoint role with View Data"),
    "mdr_groups": Requirement("GroupMember.Read.All"),
    "license_details": Requirement("User.Read", consent_role="any user (no admin consent needed)"),
    "identity_health": Requirement("SecurityIdentitiesHealth.Read.All", "Security Reader or Security Administrator"),
    "incidents": Requirement("SecurityIncident.Read.All", "Security Reader or Security Administrator"),
    "av_info": Requirement(MDE_SCOPE_NAME, "a Defender for Endpoint role with View Data"),
}
