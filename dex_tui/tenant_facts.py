"""The tenant facts: immutable values read from the tenant (organisation, SKUs, partners, devices...),
each read's outcome (:class:`ReadResult`) and the whole run's :class:`TenantFacts`.

Plain data with no I/O: the checks, the report and the UI use these without the HTTP layer
(:mod:`dex_tui.facts` fills them in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from dex_tui.clouds import get_cloud
from dex_tui.records import dataclass


@dataclass(frozen=True)
class CloudInfo:
    """The cloud the run talks to, and whether it was chosen or only detected (a hint)."""

    name: str
    detected: bool = False
    source: str = ""

    @property
    def label(self) -> str:
        return get_cloud(self.name).label

    def offers(self, service: str) -> bool:
        return get_cloud(self.name).offers(service)


@dataclass(frozen=True)
class Organization:
    id: str
    display_name: str
    country_letter_code: str | None
    default_domain: str
    tenant_type: str | None


@dataclass(frozen=True)
class Operator:
    id: str
    display_name: str
    user_principal_name: str


@dataclass(frozen=True)
class DirectoryRole:
    template_id: str
    display_name: str


@dataclass(frozen=True)
class MemberOf:
    roles: tuple[DirectoryRole, ...]
    transitive: bool  # False when only direct memberships could be read


@dataclass(frozen=True)
class ServicePlan:
    id: str
    name: str
    status: str


@dataclass(frozen=True)
class Sku:
    sku_id: str
    part_number: str
    capability_status: str
    enabled_units: int
    consumed_units: int
    plans: tuple[ServicePlan, ...]

    @property
    def usable(self) -> bool:
        """Counts for licensing: enabled (or in its grace period) with enabled prepaid units (§4.2)."""
        return self.capability_status in ("Enabled", "Warning") and self.enabled_units > 0


@dataclass(frozen=True)
class UserCount:
    count: int
    members_only: bool  # True: enabled member accounts only; False: the filter was refused, every user counted


@dataclass(frozen=True)
class Partner:
    tenant_id: str
    is_service_provider: bool
    mfa_accepted: bool | None
    compliant_device_accepted: bool | None


@dataclass(frozen=True)
class TenantName:
    tenant_id: str
    display_name: str
    default_domain: str
    federation_brand_name: str


@dataclass(frozen=True)
class TenantNames:
    names: Mapping[str, TenantName]
    failures: Mapping[str, str]  # tenant id -> why its name could not be read
    not_looked_up: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaPolicy:
    id: str
    display_name: str
    state: str
    grant_controls: tuple[str, ...]


@dataclass(frozen=True)
class CaPolicies:
    experts: tuple[CaPolicy, ...]  # those named "Microsoft Security Experts-..."
    total: int


@dataclass(frozen=True)
class DeviceCounts:
    onboarded: int
    by_health: Mapping[str, int]
    pages: int
    no_recent_machines: bool = False  # the API answered 404, which it documents for "no recent machines"
    source: str = "machines"  # "hunting": counted by advanced hunting; "machines": paged from the MDE API
    hunting_problem: str = ""  # why advanced hunting was not used, when it was not


@dataclass(frozen=True)
class AvModeCounts:
    by_mode: Mapping[str, int]  # "active", "passive", ... -> devices
    total: int
    pages: int
    source: str = "deviceavinfo"  # "hunting": onboarded devices by advanced hunting, less those listed not active
    hunting_problem: str = ""  # why advanced hunting was not used, when it was not


# -- outcomes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadResult:
    """One read's outcome: a value, or why there is none."""

    name: str
    value: Any = None
    error: str = ""  # the precise reason, one line, with the next step
    kind: str = ""  # "" (ok), http, network, malformed, throttled, sign-in, cancelled, skipped
    status: int | None = None
    permission: str | None = None
    endpoint: str = ""
    requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "ok": self.ok, "requests": self.requests,
                                "seconds": round(self.seconds, 3)}
        if not self.ok:
            data.update({"error": self.error, "kind": self.kind, "status": self.status,
                         "permission": self.permission, "endpoint": self.endpoint})
        return data


@dataclass(frozen=True)
class TenantFacts:
    """Everything read from the tenant in one run (immutable; :meth:`merged` makes an updated copy)."""

    cloud: CloudInfo
    reads: Mapping[str, ReadResult] = field(default_factory=lambda: MappingProxyType({}))
    gathered_at: str = ""

    def has(self, name: str) -> bool:
        return name in self.reads and self.reads[name].ok

    def value(self, name: str) -> Any:
        """The value of a successful read; KeyError when it is missing or failed."""
        result = self.reads.get(name)
        if result is None or not result.ok:
            raise KeyError(name)
        return result.value

    def get(self, name: str, default: Any = None) -> Any:
        return self.value(name) if self.has(name) else default

    def failure(self, name: str) -> ReadResult | None:
        """The failed outcome of ``name`` (or a 'not read' outcome when it never ran)."""
        result = self.reads.get(name)
        if result is None:
            return ReadResult(name, error=f"The {name} read did not run.", kind="skipped")
        return None if result.ok else result

    def merged(self, results: Iterable[ReadResult]) -> TenantFacts:
        reads = dict(self.reads)
        reads.update({r.name: r for r in results})
        return replace(self, reads=MappingProxyType(reads), gathered_at=utc_stamp())

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.reads.values())


def utc_stamp() -> str:
    """Now, in UTC, to the second: ``2026-01-02T03:04:05Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
