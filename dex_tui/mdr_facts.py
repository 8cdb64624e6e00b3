"""The values today's reads produce (Defender Experts MDR, Hunting's onboarding) and the fixed group
names they look for: plain data, so the checks (``dex_tui.mdr_checks``) read them without reaching the
HTTP layer. The reads themselves are in ``dex_tui.mdr_reads``."""

from __future__ import annotations

from collections.abc import Mapping

from dex_tui.records import dataclass

ANSWERS_INPUT = "answers"
SCOPED_USERS_GROUP = "Defender_Experts_Scoped_Coverage_Users"  # exact name (mdr-scoped-coverage, 08/01/2025)
SCOPED_DEVICES_GROUP = "Defender_Experts_Scoped_Coverage_Devices"
TEAM_GROUP = "Defender Experts team"  # created by "Communicate on Teams" (mdr-get-started, 02/27/2026)
SAMPLE_INCIDENT_PREFIX = "defender experts: test notification"  # hunting-onboarding, 06/16/2026 (lower case)
MDE_PAGE_SIZE = 10_000  # $top maximum of /api/machines (domain.md §4.14)
MAX_LOOKUPS = 100
INCIDENT_PAGE_SIZE = 50
INCIDENT_PAGES = 4  # the 200 most recent incidents (the API lists the most recent first)
GROUP_SELECT = "id,displayName,securityEnabled,mailEnabled,groupTypes,onPremisesSyncEnabled"
GROUP_UNIFIED_TEMPLATE = "62375ab9-6b52-47ed-826b-58e47e0e304b"
HEALTH_SEVERITIES = ("high", "medium", "low")


# ------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class DeviceGroups:
    """Defender for Endpoint device groups seen on machines (``rbacGroupName``), with device counts."""

    by_name: Mapping[str, int]
    pages: int
    no_recent_machines: bool = False
    looked_up: bool = True  # False: no recorded choice needed device groups, so the machines were not paged

    def find(self, name: str) -> str | None:
        """The group's name as MDE spells it, matched case-insensitively; None when absent."""
        wanted = name.strip().lower()
        return next((n for n in self.by_name if n.lower() == wanted), None)


@dataclass(frozen=True)
class GroupInfo:
    id: str
    display_name: str
    security_enabled: bool | None
    mail_enabled: bool | None
    unified: bool
    synced: bool  # onPremisesSyncEnabled is true


@dataclass(frozen=True)
class GroupLookups:
    """Entra groups looked up by exact display name: name -> the groups of that name (several may
    share one), why a lookup failed, and the nested groups of the scoped-coverage user group."""

    found: Mapping[str, tuple[GroupInfo, ...]]
    failures: Mapping[str, str]
    nested: Mapping[str, tuple[str, ...]]  # group id -> display names of its member groups
    nested_failures: Mapping[str, str]

    def groups(self, name: str) -> tuple[GroupInfo, ...] | None:
        """The groups named ``name`` (empty: none exists); None when it could not be looked up."""
        return None if name in self.failures else self.found.get(name)


@dataclass(frozen=True)
class LicensedPlan:
    sku: str
    plan_id: str
    plan_name: str
    status: str


@dataclass(frozen=True)
class GroupCreation:
    """The tenant's ``Group.Unified`` setting: who may create Microsoft 365 groups (and so teams)."""

    setting_found: bool  # False: no Group.Unified setting object, so the default (everyone may) applies
    enabled: bool | None
    allowed_group_id: str
    operator_in_allowed_group: bool | None  # None when not needed or not readable

    @property
    def operator_may_create(self) -> bool | None:
        if not self.setting_found or self.enabled is not False:
            return True
        if not self.allowed_group_id:
            return False
        return self.operator_in_allowed_group


@dataclass(frozen=True)
class HealthIssues:
    """Open Defender for Identity health issues by severity (names of a few for the evidence)."""

    open_by_severity: Mapping[str, int]
    examples: tuple[str, ...]
    total_open: int


@dataclass(frozen=True)
class IncidentSearch:
    """The sample notification's test incident among the most recent incidents."""

    matches: tuple[Mapping[str, str], ...]  # id, title, created, status
    scanned: int
    complete: bool  # every incident was scanned (no further page)


# ------------------------------------------------------------------------------------ helpers


