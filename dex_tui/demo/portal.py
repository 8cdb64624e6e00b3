"""Portal simulation: what the operator does in the Defender and admin portals, applied to the fake
tenant so the live checks see it through the same Graph calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dex_tui.demo.catalogue import EXPERTS_SKUS, ROLE_TEMPLATES, SERVICE_PLANS
from dex_tui.demo.scenario import Incident

if TYPE_CHECKING:
    from dex_tui.demo.cloud import FakeCloud

SERVICES = tuple(EXPERTS_SKUS)
TEAM_NAME = "Defender Experts team"  # the private team "Communicate on Teams" creates (mdr-get-started)
SAMPLE_INCIDENT = "Defender Experts: Test Notification from Microsoft Defender Experts"  # hunting-onboarding
SCOPED_USERS_GROUP = "Defender_Experts_Scoped_Coverage_Users"  # mdr-scoped-coverage
_TEAMS_ROLES = frozenset(ROLE_TEMPLATES[r] for r in ("Security Administrator", "Global Administrator"))


class PortalRefused(Exception):
    """The portal step fails in the fake tenant as it would in the real one; the message says why."""


class Portal:
    """Changes an operator makes outside the product, on demand (thread-safe)."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._cloud = cloud

    def place_licence_order(self, service: str) -> str:
        """The Defender Experts licence for ``service`` ("xdr" or "hunting") is ordered: its SKU appears in
        ``subscribedSkus``. Returns the SKU's part number, which is ASSUMED (Microsoft publishes none)."""
        if service not in SERVICES:
            raise ValueError(f"unknown Defender Experts service {service!r}; expected one of {', '.join(SERVICES)}")
        with self._cloud.lock:
            return self._cloud.tenant.order_licence(service).part_number

    def give_access(self) -> str:
        """Service provider access is given: the (fake) Microsoft Experts tenant becomes a cross-tenant
        partner with isServiceProvider and MFA + compliant-device inbound trust, and the two
        ``Microsoft Security Experts-...-DO NOT DELETE`` Conditional Access policies appear. Returns the
        partner's (fake) tenant id."""
        with self._cloud.lock:
            self._cloud.tenant.give_access()
            return self._cloud.scenario.experts.tenant_id

    def set_ca_policy_state(self, display_name: str, state: str) -> None:
        """Switch a Conditional Access policy on, off or to report-only (e.g. an admin disabling one)."""
        if state not in ("enabled", "disabled", "enabledForReportingButNotEnforced"):
            raise ValueError(f"unknown policy state {state!r}")
        with self._cloud.lock:
            self._cloud.tenant.set_ca_policy_state(display_name, state)

    def communicate_on_teams(self) -> str:
        """Settings > Defender Experts > Teams > "Communicate on Teams": the private Microsoft 365 group
        and team "Defender Experts team" appear. Refused (:class:`PortalRefused`) as the portal would be:
        without Security Administrator or higher, without a Teams licence, or when Microsoft 365 group
        creation is turned off for the operator. Returns the group's id."""
        with self._cloud.lock:
            tenant, operator = self._cloud.tenant, self._cloud.scenario.operator
            if not _TEAMS_ROLES & set(tenant.operator_role_ids()):
                raise PortalRefused("Setting up Teams needs Security Administrator or higher.")
            plans = {p["servicePlanId"] for d in tenant.license_details(operator) for p in d["servicePlans"]
                     if p["provisioningStatus"] == "Success"}
            if SERVICE_PLANS["TEAMS1"] not in plans:
                raise PortalRefused("Setting up Teams needs a Teams licence for the signed-in administrator.")
            if tenant.group_creation is False:
                allowed = tenant.group_creation_allowed_group
                if not allowed or allowed not in operator.groups:
                    raise PortalRefused("Microsoft 365 group creation is turned off (EnableGroupCreation = false) "
                                        "for the signed-in administrator, so the team cannot be created.")
            return tenant.add_group(TEAM_NAME, unified=True, description="Defender Experts managed response").id

    def send_sample_notification(self) -> str:
        """Settings > Defender Experts > Sample notifications > Generate a sample notification: the test
        incident appears in ``security/incidents``. Returns its title."""
        with self._cloud.lock:
            self._cloud.tenant.add_incident(Incident(display_name=SAMPLE_INCIDENT, severity="informational",
                                                     status="active", created=self._cloud.scenario.now,
                                                     tags=("Defender Experts",)))
            return SAMPLE_INCIDENT

    def create_scoped_coverage_users_group(self) -> str:
        """Entra admin center > Groups > New group: the security group ``Defender_Experts_Scoped_Coverage_Users``
        (no members, no nested groups). Returns its id."""
        with self._cloud.lock:
            return self._cloud.tenant.add_group(SCOPED_USERS_GROUP, description="Defender Experts scoped coverage").id
