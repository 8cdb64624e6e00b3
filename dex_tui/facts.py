"""Every tenant read the checks need, gathered concurrently into one immutable :class:`TenantFacts`.

Each read is named as in ``dex_tui.scopes.REQUIREMENTS`` and ends either with a value or with a
precise failure reason; a failure never stops the other reads. Reads run in a thread pool; a read
that needs another one's answer (partner names need the partner list) starts as soon as that one ends.

Requests per run do not grow with the tenant's size beyond what the APIs force:
- users are counted with ``/users/$count`` (one request, whatever the number of users);
- SKUs, partners, conditional access policies and the operator's memberships are small collections;
- partner tenant names are resolved through ``$batch`` (20 per request);
- Defender for Endpoint offers no count or aggregate for devices or antivirus modes, so those two
  reads page through the documented maximum page size (``$top=10000``): ceil(devices / 10,000)
  requests each. Each device is counted as it is parsed and then dropped, so memory stays at one
  page's body per read, and parsing never holds the GIL for a whole page (the UI stays responsive).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from dex_tui.clouds import get_cloud
from dex_tui.errors import DexError, Interrupted
from dex_tui.graph import GRAPH, MDE, BatchRequest, BatchResponse, GraphClient, GraphError
from dex_tui.scopes import REQUIREMENTS
from dex_tui.settings import is_guid

MDE_PAGE_SIZE = 10_000  # $top maximum of /api/machines and /api/deviceavinfo (domain.md §4.14, §4.15)
MAX_PARTNER_LOOKUPS = 60  # tenant names resolved at most (3 batches); service providers first
EXPERTS_POLICY_PREFIX = "microsoft security experts-"  # domain.md §1.4, §4.9 (compared case-insensitively)
AV_MODES = {"0": "active", "1": "passive", "2": "disabled", "3": "other", "4": "edr_blocked",
            "5": "passive_audit", "": "other"}


# ------------------------------------------------------------------------------------ values


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


@dataclass(frozen=True)
class AvModeCounts:
    by_mode: Mapping[str, int]  # "active", "passive", ... -> devices
    total: int
    pages: int


# ------------------------------------------------------------------------------------ outcomes


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
        return replace(self, reads=MappingProxyType(reads), gathered_at=_now())

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.reads.values())


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------ the reads


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
        prepaid = item.get("prepaidUnits") if isinstance(item.get("prepaidUnits"), dict) else {}
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
        trust = item.get("inboundTrust") if isinstance(item.get("inboundTrust"), dict) else {}
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
            error = client.batch_error(answer, urls[tid], read="tenant_information")
            errors.append(error)
            failures[tid] = error.reason()
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
                grant = item.get("grantControls") if isinstance(item.get("grantControls"), dict) else {}
                controls = tuple(str(c) for c in grant.get("builtInControls") or [])
                experts.append(CaPolicy(str(item.get("id") or ""), name, str(item.get("state") or ""), controls))
    return CaPolicies(tuple(experts), total)


def read_machines(client: GraphClient, deps: Mapping[str, ReadResult]) -> DeviceCounts:
    """Onboarded devices by health status. The MDE API has no count: this pages at its maximum size,
    counting each device as it is parsed and keeping nothing else of it."""
    health: Counter[str] = Counter()
    pages = 0
    try:
        for items in client.iter_page_items(MDE, "/machines", read="machines",
                                            params={"$filter": "onboardingStatus eq 'Onboarded'",
                                                    "$top": MDE_PAGE_SIZE}):
            pages += 1
            for item in items:
                status = item.get("onboardingStatus", item.get("onboardingstatus"))
                if str(status or "onboarded").lower() == "onboarded":
                    health[str(item.get("healthStatus") or "Unknown")] += 1
    except GraphError as error:
        if error.status == 404:  # documented: 404 when the tenant has no recent machines (§4.14)
            return DeviceCounts(0, MappingProxyType({}), pages + 1, no_recent_machines=True)
        raise
    return DeviceCounts(sum(health.values()), MappingProxyType(dict(health)), pages)


def read_av_info(client: GraphClient, deps: Mapping[str, ReadResult]) -> AvModeCounts:
    """Devices per Defender Antivirus mode. No aggregate exists: this pages at the maximum size,
    counting each device as it is parsed."""
    modes: Counter[str] = Counter()
    pages = 0
    for items in client.iter_page_items(MDE, "/deviceavinfo", read="av_info", params={"$top": MDE_PAGE_SIZE}):
        pages += 1
        for item in items:
            raw = item.get("avMode")
            modes[AV_MODES.get("" if raw is None else str(raw).strip(), "other")] += 1
    return AvModeCounts(MappingProxyType(dict(modes)), sum(modes.values()), pages)


@dataclass(frozen=True)
class ReadSpec:
    name: str
    api: str
    what: str  # the request(s), for documentation and progress lines
    fn: Callable[[GraphClient, Mapping[str, ReadResult]], Any]
    depends_on: tuple[str, ...] = ()


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
    ReadSpec("machines", MDE, "GET /api/machines?$filter=onboardingStatus eq 'Onboarded'", read_machines),
    ReadSpec("av_info", MDE, "GET /api/deviceavinfo", read_av_info),
)}
assert all(name in REQUIREMENTS for name in READS)


def with_dependencies(names: Iterable[str]) -> list[str]:
    """``names`` plus the reads they depend on, in :data:`READS` order."""
    wanted = set(names)
    for name in list(wanted):
        wanted.update(READS[name].depends_on)
    return [name for name in READS if name in wanted]


# ------------------------------------------------------------------------------------ gathering


def _failure(name: str, error: BaseException, requests: int, seconds: float) -> ReadResult:
    if isinstance(error, GraphError):
        return ReadResult(name, error=error.reason(), kind=error.kind, status=error.status,
                          permission=error.permission if error.status == 403 else None, endpoint=error.endpoint,
                          requests=requests, seconds=seconds)
    if isinstance(error, DexError):
        # A SignInRequired (code "signin_required": the saved sign-in was revoked or expired) has its own
        # kind, so the wizard's session knows to ask for a new sign-in (dex_tui.session.session_ended).
        kind = "session-ended" if getattr(error, "code", "") == "signin_required" else "sign-in"
        return ReadResult(name, error=error.one_line(), kind=kind, requests=requests, seconds=seconds,
                          permission=REQUIREMENTS[name].permission if name in REQUIREMENTS else None)
    return ReadResult(name, error=f"The {name} read failed unexpectedly ({type(error).__name__}: {error}).",
                      kind="internal", requests=requests, seconds=seconds)


def run_read(client: GraphClient, spec: ReadSpec, deps: Mapping[str, ReadResult]) -> ReadResult:
    """Run one read; never raises except :class:`Interrupted` (cancellation)."""
    for dep in spec.depends_on:
        if not deps.get(dep, ReadResult(dep, error="missing")).ok:
            return ReadResult(spec.name, error=f"Not read, because the {dep} read failed: {deps[dep].error}"
                              if dep in deps else f"Not read, because the {dep} read did not run.",
                              kind="skipped", status=deps[dep].status if dep in deps else None,
                              permission=deps[dep].permission if dep in deps else None)
    before, start = client.thread_requests(), time.monotonic()
    try:
        value = spec.fn(client, deps)
    except Interrupted:
        raise
    except Exception as error:  # every failure becomes this read's precise reason
        return _failure(spec.name, error, client.thread_requests() - before, time.monotonic() - start)
    return ReadResult(spec.name, value=value, requests=client.thread_requests() - before,
                      seconds=time.monotonic() - start)


def gather(client: GraphClient, cloud: CloudInfo, *, names: Iterable[str] | None = None,
           previous: TenantFacts | None = None, on_read: Callable[[ReadResult], None] | None = None,
           is_cancelled: Callable[[], bool] | None = None, max_workers: int = 10) -> TenantFacts:
    """Run the reads (all, or ``names`` plus their dependencies) concurrently and return the facts.

    ``on_read`` is called from worker threads as each read ends. Dependencies not re-read are taken
    from ``previous``. Cancellation (``is_cancelled``) is checked every 50 ms; it raises
    :class:`~dex_tui.errors.Interrupted` without waiting for requests in flight.
    """
    stop = threading.Event()  # set when gather leaves early (cancel, Ctrl+C, error): the reads stop too
    user_cancelled = is_cancelled or (lambda: False)

    def cancelled() -> bool:
        return stop.is_set() or user_cancelled()

    run_client = client.derive(is_cancelled=cancelled)
    wanted = with_dependencies(READS if names is None else names)
    results: dict[str, ReadResult] = {}
    if previous is not None:
        results.update({k: v for k, v in previous.reads.items() if k not in wanted})
    lock = threading.Lock()
    done = threading.Event()
    remaining = set(wanted)
    started: set[str] = set()
    errors: list[BaseException] = []
    pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dex-read")

    def ready(name: str) -> bool:
        return all(dep in results for dep in READS[name].depends_on)

    def start_ready() -> None:
        with lock:
            todo = [n for n in wanted if n not in started and ready(n)]
            started.update(todo)
            snapshot = dict(results)
        for name in todo:
            pool.submit(work, name, snapshot)

    def work(name: str, deps: Mapping[str, ReadResult]) -> None:
        try:
            result = run_read(run_client, READS[name], deps)
        except BaseException as error:  # Interrupted, or a bug in a callback: end the run
            errors.append(error)
            done.set()
            return
        with lock:
            results[name] = result
        try:
            if on_read is not None:
                on_read(result)
            if not cancelled():
                start_ready()
        except BaseException as error:
            errors.append(error)
            done.set()
            return
        # Done only when every read *and its callback* has finished, so no result arrives late.
        with lock:
            remaining.discard(name)
            finished = not remaining
        if finished:
            done.set()

    try:
        if wanted:
            start_ready()
            while not done.wait(0.05):
                if cancelled():
                    raise Interrupted("The checks were cancelled.")
        if errors:
            raise errors[0]
        if cancelled():
            raise Interrupted("The checks were cancelled.")
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    return TenantFacts(cloud=cloud, reads=MappingProxyType({n: results[n] for n in READS if n in results}),
                       gathered_at=_now())
