"""Scenario files (``assets/scenarios/*.toml``): loading, ``extends``, validation, and knob overrides.

A scenario describes one fake tenant and how the fake cloud behaves. Every field is checked on load;
a bad file is a UsageError naming the file and the field. The format is documented in the README
("Scenario file format") and by the shipped files themselves.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from dex_tui.assets import asset_path
from dex_tui.clouds import CLOUD_NAMES, Cloud, get_cloud
from dex_tui.demo.catalogue import (
    GRAPH_APP_PERMISSION_NAMES,
    MDE_APP_PERMISSION_NAMES,
    ROLE_TEMPLATES,
    SERVICE_PLANS,
    SKUS,
)
from dex_tui.errors import UsageError
from dex_tui.records import dataclass
from dex_tui.settings import is_guid
from dex_tui.tomlfile import TomlFile, load_toml

SCENARIO_DIR = ("scenarios",)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ID_NAMESPACE = uuid.UUID("6c2d5a8e-3f1b-4c8e-9a47-0d3e5f7a9b21")

APPROVAL_MODES = ("auto", "on_demand", "decline", "expire", "ca_block")
FAULT_KINDS = ("throttle", "status", "timeout", "reset", "malformed", "truncated", "latency")
CAPABILITY_STATUSES = ("Enabled", "Warning", "Suspended", "Deleted", "LockedOut")
PROVISIONING_STATUSES = ("Success", "Disabled", "Error", "PendingInput", "PendingActivation",
                         "PendingProvisioning")
ONBOARDING_STATUSES = ("Onboarded", "CanBeOnboarded", "Unsupported", "InsufficientInfo")
HEALTH_STATUSES = ("Active", "Inactive", "ImpairedCommunication", "NoSensorData",
                   "NoSensorDataImpairedCommunication", "Unknown")
AV_MODES = ("", "0", "1", "2", "3", "4", "5")
OS_KINDS = ("windows", "mac", "linux")
CA_STATES = ("enabled", "disabled", "enabledForReportingButNotEnforced")

# Endpoint names a fault may target (``*`` and ``graph.*``-style prefixes are allowed too).
ENDPOINT_NAMES = (
    "login.openid", "login.devicecode", "login.token", "login.authorize",
    "graph.organization", "graph.me", "graph.memberOf", "graph.transitiveMemberOf", "graph.subscribedSkus",
    "graph.users", "graph.usersCount", "graph.partners", "graph.partner", "graph.tenantInformation",
    "graph.caPolicies", "graph.roleDefinitions", "graph.roleAssignments", "graph.groupSettings",
    "graph.huntingQuery", "graph.batch", "mde.machines", "mde.deviceavinfo",
    "graph.groups", "graph.groupMembers", "graph.licenseDetails", "graph.healthIssues", "graph.incidents",
)
HEALTH_SEVERITIES = ("low", "medium", "high")
HEALTH_STATUSES_MDI = ("open", "closed", "suppressed")
HEALTH_TYPES = ("global", "sensor")
INCIDENT_SEVERITIES = ("informational", "low", "medium", "high")
INCIDENT_STATUSES = ("active", "resolved", "inProgress", "redirected", "awaitingAction")


def stable_id(*parts: str) -> str:
    """A deterministic GUID for a generated object (users, devices, groups, roles)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class Person:
    """A named member user (the operator or a colleague)."""

    id: str
    display_name: str
    upn: str
    given_name: str
    surname: str
    job_title: str
    roles: tuple[str, ...]  # role display names (directly assigned)
    groups: tuple[str, ...]  # group display names (direct membership)
    licenses: tuple[str, ...] = ()  # part numbers of [[skus]] assigned to this user (/me/licenseDetails)


@dataclass(frozen=True)
class Group:
    id: str
    display_name: str
    description: str
    roles: tuple[str, ...]  # roles assigned to this (role-assignable) group
    role_assignable: bool
    security_enabled: bool = True
    unified: bool = False  # a Microsoft 365 group (groupTypes ["Unified"], mail-enabled)
    synced: bool = False  # onPremisesSyncEnabled: synchronised from on-premises Active Directory
    member_groups: tuple[str, ...] = ()  # names of [[groups]] nested in this one


@dataclass(frozen=True)
class HealthIssue:
    """A Defender for Identity health issue (Graph security/identities/healthIssues)."""

    display_name: str
    severity: str
    status: str
    issue_type: str
    created: str


@dataclass(frozen=True)
class Incident:
    """A Defender XDR incident (Graph security/incidents)."""

    display_name: str
    severity: str
    status: str
    created: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ServicePlan:
    name: str
    id: str
    status: str


@dataclass(frozen=True)
class Sku:
    part_number: str
    sku_id: str
    applies_to: str
    capability_status: str
    enabled: int
    suspended: int
    warning: int
    locked_out: int
    consumed: int
    plans: tuple[ServicePlan, ...]


@dataclass(frozen=True)
class DeviceGroup:
    """``count`` devices sharing every attribute but their name, id and addresses."""

    count: int
    name: str  # pattern with {n}, e.g. "con-ws{n:04}"
    os_platform: str
    os_version: str
    os_kind: str
    onboarding: str
    health: str
    av_mode: str
    rbac_group: str
    exposure: str
    risk: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class CaPolicy:
    display_name: str
    state: str
    guest_types: str  # comma-separated guestOrExternalUserTypes, "" for none
    external_tenants: tuple[str, ...]  # enumerated tenant ids, empty for all
    grant: tuple[str, ...]  # builtInControls
    operator: str  # AND / OR
    include_users: tuple[str, ...]
    created: str


@dataclass(frozen=True)
class Partner:
    tenant_id: str
    is_service_provider: bool
    mfa_accepted: bool
    compliant_device_accepted: bool
    hybrid_joined_accepted: bool


@dataclass(frozen=True)
class KnownTenant:
    tenant_id: str
    display_name: str
    default_domain: str
    federation_brand_name: str | None


@dataclass(frozen=True)
class Experts:
    """The (fake) Microsoft Experts tenant and what giving it access creates."""

    tenant_id: str
    display_name: str
    default_domain: str
    ca_policy_names: tuple[str, ...]
    access_granted: bool
    licences_ordered: tuple[str, ...]  # "xdr" / "hunting"


@dataclass(frozen=True)
class DeviceCodeKnobs:
    user_code: str
    approval: str
    after_polls: int
    slow_down_polls: int
    expires_in: int
    interval: int
    verification_uri: str  # "" means "<login url>/devicelogin"


@dataclass(frozen=True)
class Fault:
    """One behaviour knob on one endpoint: applies to calls ``skip+1 .. skip+count`` (count 0: all)."""

    endpoint: str
    kind: str
    count: int
    skip: int
    status: int
    retry_after: int
    latency_ms: int

    def matches(self, endpoint: str) -> bool:
        if self.endpoint in ("*", endpoint):
            return True
        return self.endpoint.endswith(".*") and endpoint.startswith(self.endpoint[:-1])


@dataclass(frozen=True)
class Application:
    """An app registration that may sign in as itself (client credentials with a certificate): the
    certificates registered for it (PEM, public part only) and the application permissions an
    administrator consented to (Graph and Defender for Endpoint names)."""

    client_id: str
    display_name: str
    certificates: tuple[str, ...]
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class Behaviour:
    latency_ms: int
    token_lifetime: int
    device_code: DeviceCodeKnobs
    faults: tuple[Fault, ...]
    missing_consent: tuple[str, ...]  # delegated permissions the tenant never consented to


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``raw`` keeps the merged TOML data so overrides can be re-validated."""

    name: str
    summary: str
    source: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    tenant_id: str
    display_name: str
    country: str
    region_scope: str
    cloud: Cloud
    created: str
    now: str
    initial_domain: str
    domains: tuple[str, ...]
    operator: Person
    people: tuple[Person, ...]
    groups: tuple[Group, ...]
    members: int
    guests: int
    disabled_members: int  # besides ``members``: member accounts that cannot sign in (shared mailboxes)
    skus: tuple[Sku, ...]
    devices: tuple[DeviceGroup, ...]
    partners: tuple[Partner, ...]
    ca_policies: tuple[CaPolicy, ...]
    known_tenants: tuple[KnownTenant, ...]
    experts: Experts
    group_creation: bool | None  # None: no Group.Unified setting object in the tenant
    behaviour: Behaviour
    group_creation_allowed_group: str = ""  # GroupCreationAllowedGroupId, by group name ("" = none)
    health_issues: tuple[HealthIssue, ...] = ()
    incidents: tuple[Incident, ...] = ()
    applications: tuple[Application, ...] = ()

    @property
    def default_domain(self) -> str:
        return self.domains[0] if self.domains else self.initial_domain

    def merged(self, patch: Mapping[str, Any]) -> Scenario:
        """A copy with ``patch`` deep-merged into the scenario data (tables merge, other values and
        arrays replace), validated again. Tests use it to build variants in code."""
        data = _deep_merge(copy.deepcopy(self.raw), dict(patch))
        return _build(data, f"{self.source} (+ overrides)")

    def with_knobs(self, **behaviour: Any) -> Scenario:
        """A copy with behaviour knobs replaced, e.g. ``with_knobs(faults=[{...}], latency_ms=50)``
        or ``with_knobs(device_code={"approval": "on_demand"})``."""
        return self.merged({"behaviour": behaviour})

    def with_devices(self, total: int) -> Scenario:
        """A copy whose device groups keep their shares of the devices but add up to ``total`` (each
        group at least one device): the same tenant at another size (tests and the benchmark)."""
        groups = [dict(g) for g in self.raw.get("devices", [])]
        if not groups or total < len(groups):
            raise ValueError(f"cannot spread {total} devices over {len(groups)} device groups")
        now = sum(int(g["count"]) for g in groups)
        counts = [max(1, int(g["count"]) * total // now) for g in groups]
        counts[0] += total - sum(counts)
        return self.merged({"devices": [{**g, "count": n} for g, n in zip(groups, counts, strict=True)]})

    def with_faults(self, *faults: Mapping[str, Any]) -> Scenario:
        """A copy whose faults are the scenario's plus ``faults`` (each a ``[[behaviour.faults]]`` table)."""
        existing = list(self.raw.get("behaviour", {}).get("faults", []))
        return self.merged({"behaviour": {"faults": existing + [dict(f) for f in faults]}})


# --------------------------------------------------------------------------- loading


def scenario_dir() -> Path:
    return asset_path(*SCENARIO_DIR)


def scenario_names() -> list[str]:
    """Names of the shipped scenarios (files starting with ``_`` are shared bases, not scenarios)."""
    return sorted(p.stem for p in scenario_dir().glob("*.toml") if not p.name.startswith("_"))


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path; UsageError on any problem."""
    path = _resolve(name_or_path)
    file = _read_toml(path)
    return _build(_with_base(path, file.data, []), str(path), file)


def _resolve(name_or_path: str) -> Path:
    text = str(name_or_path)
    if _NAME.match(text) and not text.endswith(".toml"):
        path = scenario_dir() / f"{text}.toml"
        if path.is_file():
            return path
        raise UsageError(f"there is no demo scenario called {text!r}.",
                         title="Unknown scenario",
                         next_step=f"Choose one of: {', '.join(scenario_names())}.")
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(f"the scenario file {text!r} does not exist.", title="Unknown scenario",
                         next_step=f"Give a path to a .toml file or one of: {', '.join(scenario_names())}.")
    return path


def _read_toml(path: Path) -> TomlFile:
    shipped = path.resolve().parent == scenario_dir().resolve()
    return load_toml(path, "scenario file", error=lambda text: UsageError(text, title="Invalid scenario"),
                     cache=shipped)


def _read_with_extends(path: Path, chain: list[Path]) -> dict[str, Any]:
    return _with_base(path, _read_toml(path).data, chain)


def _with_base(path: Path, data: dict[str, Any], chain: list[Path]) -> dict[str, Any]:
    """``data``, read from ``path``, merged onto the scenario its ``scenario.extends`` names (if any)."""
    if path.resolve() in chain:
        raise UsageError(f"scenario file {str(path)!r}: field scenario.extends forms a cycle.",
                         title="Invalid scenario")
    meta = data.get("scenario", {})
    parent = meta.get("extends") if isinstance(meta, dict) else None
    if parent is None:
        return data
    if not isinstance(parent, str) or not _NAME.match(parent):
        raise UsageError(f"scenario file {str(path)!r}: field scenario.extends must name a shipped "
                         f"scenario or base (lowercase letters, digits, '-', or a leading '_').",
                         title="Invalid scenario")
    parent_path = scenario_dir() / f"{parent}.toml"
    if not parent_path.is_file():
        parent_path = scenario_dir() / f"_{parent}.toml"
    if not parent_path.is_file():
        raise UsageError(f"scenario file {str(path)!r}: field scenario.extends names {parent!r}, which is "
                         f"not a shipped scenario.", title="Invalid scenario",
                         next_step=f"Choose one of: {', '.join(scenario_names())}.")
    base = _read_with_extends(parent_path, [*chain, path.resolve()])
    base.get("scenario", {}).pop("extends", None)
    data["scenario"].pop("extends", None)
    return _deep_merge(base, data)


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


# --------------------------------------------------------------------------- validation


class _Fields:
    """Reads one table, checking types; every error names the file and the dotted field."""

    def __init__(self, data: Any, where: str, source: str, file: TomlFile | None = None) -> None:
        self.source = source
        self.file = file  # the scenario file itself, when there is one: errors then name the line
        self.where = where
        if not isinstance(data, dict):
            self.fail("", f"must be a table, not {_type_name(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> NoReturn:
        name = f"{self.where}.{key}" if self.where and key else (self.where or key)
        line = self.file.line_of(name) if self.file is not None and name else None
        place = f"scenario file {self.source!r}" + (f", line {line}" if line else "")
        raise UsageError(f"{place}: field {name} {problem}.", title="Invalid scenario",
                         next_step="Fix the field (see 'Scenario file format' in the README).")

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], kind_name: str) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                self.fail(key, "is missing")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in kinds:
            self.fail(key, f"must be {kind_name}, not a boolean")
        if not isinstance(value, kinds):
            self.fail(key, f"must be {kind_name}, not {_type_name(value)}")
        return value

    def text(self, key: str, default: Any = None, *, choices: tuple[str, ...] = (),
             pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value: str = self._get(key, _REQUIRED if default is None else default, (str,), "a string")
        if choices and value not in choices:
            self.fail(key, f"is {value!r}; expected one of {', '.join(repr(c) for c in choices)}")
        if pattern is not None and not pattern.match(value):
            self.fail(key, f"is {value!r}, which is not {what}")
        return value

    def guid(self, key: str, default: Any = None) -> str:
        value: str = self._get(key, _REQUIRED if default is None else default, (str,), "a string")
        value = value.lower()
        if not is_guid(value):
            self.fail(key, f"is {value!r}, which is not a GUID")
        return value

    def integer(self, key: str, default: Any = None, *, minimum: int = 0, maximum: int | None = None) -> int:
        value: int = self._get(key, _REQUIRED if default is None else default, (int,), "an integer")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.fail(key, f"is {value}; it must be {bound}")
        return value

    def boolean(self, key: str, default: Any = None) -> bool:
        value: bool = self._get(key, _REQUIRED if default is None else default, (bool,), "true or false")
        return value

    def timestamp(self, key: str, default: Any = None) -> str:
        value = self.text(key, default)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(key, f"is {value!r}, which is not an ISO 8601 timestamp like 2025-06-02T09:00:00Z")
        offset = parsed.utcoffset()
        if offset is None or offset.total_seconds() != 0:
            self.fail(key, f"is {value!r}; timestamps must be UTC and end in Z")
        return value

    def strings(self, key: str, default: Any = (), *, choices: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(key, default, (list, tuple), "an array of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", f"must be a string, not {_type_name(item)}")
            if choices and item not in choices:
                self.fail(f"{key}[{i}]", f"is {item!r}; expected one of {', '.join(choices)}")
        return tuple(value)

    def table(self, key: str, *, required: bool = False) -> _Fields:
        self.used.add(key)
        if key not in self.data:
            if required:
                self.fail(key, "is missing")
            return _Fields({}, self._child(key), self.source, self.file)
        return _Fields(self.data[key], self._child(key), self.source, self.file)

    def tables(self, key: str) -> list[_Fields]:
        value = self._get(key, [], (list,), "an array of tables")
        return [_Fields(item, f"{self._child(key)}[{i}]", self.source, self.file) for i, item in enumerate(value)]

    def _child(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "is not a known field (misspelt?)")


_REQUIRED = object()


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", int: "an integer", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)


def _person(f: _Fields, tenant_id: str, group_names: set[str]) -> Person:
    upn = f.text("upn")
    if "@" not in upn:
        f.fail("upn", f"is {upn!r}, which is not a user principal name (name@domain)")
    display = f.text("name")
    parts = display.split(" ", 1)
    person = Person(
        id=f.guid("id", stable_id(tenant_id, "user", upn.lower())),
        display_name=display,
        upn=upn,
        given_name=f.text("given_name", parts[0]),
        surname=f.text("surname", parts[1] if len(parts) > 1 else ""),
        job_title=f.text("job_title", ""),
        roles=f.strings("roles", choices=tuple(ROLE_TEMPLATES)),
        groups=f.strings("groups"),
        licenses=f.strings("licenses"),
    )
    for i, group in enumerate(person.groups):
        if group not in group_names:
            f.fail(f"groups[{i}]", f"names {group!r}, which is not in [[groups]]")
    f.done()
    return person


def _sku(f: _Fields) -> Sku:
    part = f.text("part_number")
    sku_id = f.guid("sku_id", SKUS.get(part, "")) if part in SKUS else f.guid("sku_id")
    plans = []
    raw_plans = f._get("plans", _REQUIRED, (list,), "an array")
    for i, item in enumerate(raw_plans):
        if isinstance(item, str):
            name, status, plan_id = item, "Success", SERVICE_PLANS.get(item)
            if plan_id is None:
                f.fail(f"plans[{i}]", f"is {item!r}, an unknown service plan; give {{ name, id }} for it")
        else:
            p = _Fields(item, f"{f.where}.plans[{i}]", f.source, f.file)
            name = p.text("name")
            plan_id = p.guid("id", SERVICE_PLANS.get(name, "")) if name in SERVICE_PLANS else p.guid("id")
            status = p.text("status", "Success", choices=PROVISIONING_STATUSES)
            p.done()
        plans.append(ServicePlan(name, plan_id, status))
    enabled = f.integer("enabled")
    sku = Sku(
        part_number=part, sku_id=sku_id,
        applies_to=f.text("applies_to", "User", choices=("User", "Company")),
        capability_status=f.text("status", "Enabled", choices=CAPABILITY_STATUSES),
        enabled=enabled, suspended=f.integer("suspended", 0), warning=f.integer("warning", 0),
        locked_out=f.integer("locked_out", 0), consumed=f.integer("consumed", 0),
        plans=tuple(plans),
    )
    f.done()
    return sku


def _devices(f: _Fields) -> DeviceGroup:
    name = f.text("name")
    try:
        name.format(n=1)
    except (KeyError, IndexError, ValueError):
        f.fail("name", f"is {name!r}; it must be a pattern using only {{n}}, e.g. 'con-ws{{n:04}}'")
    group = DeviceGroup(
        count=f.integer("count", minimum=1, maximum=10_000_000),
        name=name,
        os_platform=f.text("os_platform", "Windows11"),
        os_version=f.text("os_version", "10.0.22631.4460"),
        os_kind=f.text("os_kind", "windows", choices=OS_KINDS),
        onboarding=f.text("onboarding", "Onboarded", choices=ONBOARDING_STATUSES),
        health=f.text("health", "Active", choices=HEALTH_STATUSES),
        av_mode=f.text("av_mode", "0", choices=AV_MODES),
        rbac_group=f.text("rbac_group", "UnassignedGroup"),
        exposure=f.text("exposure", "Medium", choices=("None", "Low", "Medium", "High")),
        risk=f.text("risk", "Low", choices=("None", "Informational", "Low", "Medium", "High")),
        tags=f.strings("tags"),
    )
    f.done()
    return group


def _faults(b: _Fields) -> tuple[Fault, ...]:
    faults = []
    for f in b.tables("faults"):
        endpoint = f.text("endpoint")
        if endpoint != "*" and endpoint not in ENDPOINT_NAMES and not (
                endpoint.endswith(".*") and endpoint[:-2] in ("login", "graph", "mde")):
            f.fail("endpoint", f"is {endpoint!r}; expected '*', 'login.*', 'graph.*', 'mde.*' or one of "
                               f"{', '.join(ENDPOINT_NAMES)}")
        kind = f.text("kind", choices=FAULT_KINDS)
        default_status = {"throttle": 429, "status": 503}.get(kind, 0)
        fault = Fault(
            endpoint=endpoint, kind=kind, count=f.integer("count", 1), skip=f.integer("skip", 0),
            status=f.integer("status", default_status, minimum=0, maximum=599),
            retry_after=f.integer("retry_after", 1 if kind == "throttle" else 0),
            latency_ms=f.integer("latency_ms", 0, maximum=600_000),
        )
        if kind == "status" and not 400 <= fault.status <= 599:
            f.fail("status", f"is {fault.status}; a 'status' fault needs an HTTP error status 400-599")
        if kind == "latency" and fault.latency_ms == 0:
            f.fail("latency_ms", "must be set (above 0) for a 'latency' fault")
        f.done()
        faults.append(fault)
    return tuple(faults)


def _build(data: dict[str, Any], source: str, file: TomlFile | None = None) -> Scenario:
    root = _Fields(data, "", source, file)
    meta = root.table("scenario", required=True)
    name = meta.text("name", pattern=_NAME, what="a scenario name (lowercase letters, digits, '-')")
    summary = meta.text("summary")
    meta.done()

    t = root.table("tenant", required=True)
    tenant_id = t.guid("id")
    display_name = t.text("display_name")
    initial = t.text("initial_domain", pattern=_DOMAIN, what="a lowercase domain name").lower()
    if not initial.endswith(".onmicrosoft.com") and not initial.endswith(".onmicrosoft.us"):
        t.fail("initial_domain", f"is {initial!r}; the initial domain ends in .onmicrosoft.com (or .us)")
    domains = t.strings("domains")
    for i, d in enumerate(domains):
        if not _DOMAIN.match(d):
            t.fail(f"domains[{i}]", f"is {d!r}, which is not a lowercase domain name")
    cloud_name = t.text("cloud", "commercial", choices=CLOUD_NAMES)
    tenant: dict[str, Any] = dict(
        tenant_id=tenant_id, display_name=display_name, initial_domain=initial, domains=domains,
        cloud=get_cloud(cloud_name),
        country=t.text("country", "US", pattern=re.compile(r"^[A-Z]{2}$"), what="a two-letter country code"),
        region_scope=t.text("region_scope", "NA"),
        created=t.timestamp("created"), now=t.timestamp("now"),
    )
    t.done()

    group_fields = root.tables("groups")
    groups = []
    for g in group_fields:
        gname = g.text("name")
        unified = g.boolean("unified", False)
        groups.append(Group(id=g.guid("id", stable_id(tenant_id, "group", gname)), display_name=gname,
                            description=g.text("description", ""),
                            roles=g.strings("roles", choices=tuple(ROLE_TEMPLATES)),
                            role_assignable=g.boolean("role_assignable", False),
                            security_enabled=g.boolean("security_enabled", not unified), unified=unified,
                            synced=g.boolean("synced", False), member_groups=g.strings("member_groups")))
        if groups[-1].roles and not groups[-1].role_assignable:
            g.fail("roles", "needs role_assignable = true (only role-assignable groups can hold roles)")
        if not groups[-1].security_enabled and not unified:
            g.fail("security_enabled", "can be false only for a Microsoft 365 group (unified = true)")
        g.done()
    group_names = {g.display_name for g in groups}
    if len(group_names) != len(groups):
        root.fail("groups", "repeats a group name")
    for g, group in zip(group_fields, groups, strict=True):
        for j, nested in enumerate(group.member_groups):
            if nested not in group_names or nested == group.display_name:
                g.fail(f"member_groups[{j}]", f"names {nested!r}, which is not another group in [[groups]]")

    operator = _person(root.table("operator", required=True), tenant_id, group_names)
    people = tuple(_person(p, tenant_id, group_names) for p in root.tables("people"))
    upns = [p.upn.lower() for p in (operator, *people)]
    if len(set(upns)) != len(upns):
        root.fail("people", "repeats a upn")

    u = root.table("users")
    members = u.integer("members", len(upns), maximum=10_000_000)
    guests = u.integer("guests", 0, maximum=10_000_000)
    if members < len(upns):
        u.fail("members", f"is {members}, fewer than the {len(upns)} named people (operator included)")
    disabled = u.integer("disabled", 0, maximum=10_000_000)  # besides ``members``
    u.done()

    skus = tuple(_sku(s) for s in root.tables("skus"))
    parts = {sku.part_number for sku in skus}
    for where, person in (("operator", operator), *((f"people[{i}]", p) for i, p in enumerate(people))):
        for j, licence in enumerate(person.licenses):
            if licence not in parts:
                root.fail(f"{where}.licenses[{j}]", f"names {licence!r}, which is not a part_number in [[skus]]")
    devices = tuple(_devices(d) for d in root.tables("devices"))

    partners = []
    for p in root.tables("partners"):
        partners.append(Partner(tenant_id=p.guid("tenant_id"),
                                is_service_provider=p.boolean("is_service_provider", False),
                                mfa_accepted=p.boolean("mfa_accepted", False),
                                compliant_device_accepted=p.boolean("compliant_device_accepted", False),
                                hybrid_joined_accepted=p.boolean("hybrid_joined_accepted", False)))
        p.done()

    ca_policies = []
    for c in root.tables("ca_policies"):
        ca_policies.append(CaPolicy(
            display_name=c.text("name"), state=c.text("state", "enabled", choices=CA_STATES),
            guest_types=c.text("guest_types", ""), external_tenants=c.strings("external_tenants"),
            grant=c.strings("grant", choices=("block", "mfa", "compliantDevice", "domainJoinedDevice",
                                              "approvedApplication", "compliantApplication",
                                              "passwordChange")),
            operator=c.text("operator", "OR", choices=("AND", "OR")),
            include_users=c.strings("include_users", ("All",)),
            created=c.timestamp("created", tenant["created"])))
        c.done()

    known = []
    for k in root.tables("known_tenants"):
        known.append(KnownTenant(tenant_id=k.guid("tenant_id"), display_name=k.text("display_name"),
                                 default_domain=k.text("default_domain"),
                                 federation_brand_name=k.text("federation_brand_name", "") or None))
        k.done()

    e = root.table("experts", required=True)
    experts = Experts(
        tenant_id=e.guid("tenant_id"), display_name=e.text("display_name"),
        default_domain=e.text("default_domain"),
        ca_policy_names=e.strings("ca_policy_names"),
        access_granted=e.boolean("access_granted", False),
        licences_ordered=e.strings("licences_ordered", choices=("xdr", "hunting")),
    )
    if len(experts.ca_policy_names) != 2:
        e.fail("ca_policy_names", "must name the two policies giving access creates")
    for i, policy in enumerate(experts.ca_policy_names):
        if not policy.startswith("Microsoft Security Experts-"):
            e.fail(f"ca_policy_names[{i}]", f"is {policy!r}; it must start with 'Microsoft Security Experts-'")
    e.done()

    gs = root.table("group_settings")
    group_creation = gs.boolean("enable_group_creation", True) if "enable_group_creation" in gs.data else None
    allowed_group = gs.text("group_creation_allowed_group", "")
    if allowed_group and allowed_group not in group_names:
        gs.fail("group_creation_allowed_group", f"names {allowed_group!r}, which is not in [[groups]]")
    if allowed_group and group_creation is None:
        gs.fail("group_creation_allowed_group", "needs enable_group_creation (the setting object it belongs to)")
    gs.done()

    health_issues = []
    for h in root.tables("identity_health_issues"):
        health_issues.append(HealthIssue(
            display_name=h.text("name"), severity=h.text("severity", "medium", choices=HEALTH_SEVERITIES),
            status=h.text("status", "open", choices=HEALTH_STATUSES_MDI),
            issue_type=h.text("type", "global", choices=HEALTH_TYPES),
            created=h.timestamp("created", tenant["now"])))
        h.done()
    incidents = []
    for n in root.tables("incidents"):
        incidents.append(Incident(
            display_name=n.text("name"), severity=n.text("severity", "medium", choices=INCIDENT_SEVERITIES),
            status=n.text("status", "active", choices=INCIDENT_STATUSES),
            created=n.timestamp("created", tenant["now"]), tags=n.strings("tags")))
        n.done()
    applications = tuple(_application(a) for a in root.tables("applications"))
    if len({a.client_id for a in applications}) != len(applications):
        root.fail("applications", "repeats a client_id")

    b = root.table("behaviour")
    dc = b.table("device_code")
    device_code = DeviceCodeKnobs(
        user_code=dc.text("user_code", "DEMO-4821", pattern=re.compile(r"^[A-Z0-9-]{4,16}$"),
                          what="a user code (4-16 uppercase letters, digits, '-')"),
        approval=dc.text("approval", "auto", choices=APPROVAL_MODES),
        after_polls=dc.integer("after_polls", 0, maximum=1000),
        slow_down_polls=dc.integer("slow_down_polls", 0, maximum=1000),
        expires_in=dc.integer("expires_in", 900, minimum=1, maximum=86400),
        interval=dc.integer("interval", 1, minimum=1, maximum=60),
        verification_uri=dc.text("verification_uri", ""),
    )
    if device_code.verification_uri and not device_code.verification_uri.startswith("https://"):
        dc.fail("verification_uri", "must be an https:// URL")
    dc.done()
    behaviour = Behaviour(
        latency_ms=b.integer("latency_ms", 0, maximum=600_000),
        token_lifetime=b.integer("token_lifetime", 3600, minimum=1, maximum=86400),
        device_code=device_code,
        faults=_faults(b),
        missing_consent=b.strings("missing_consent"),
    )
    b.done()
    root.done()

    return Scenario(name=name, summary=summary, source=source, raw=data, operator=operator, people=people,
                    groups=tuple(groups), members=members, guests=guests, disabled_members=disabled, skus=skus, devices=devices,
                    partners=tuple(partners), ca_policies=tuple(ca_policies), known_tenants=tuple(known),
                    experts=experts, group_creation=group_creation, behaviour=behaviour,
                    group_creation_allowed_group=allowed_group, health_issues=tuple(health_issues),
                    incidents=tuple(incidents), applications=applications, **tenant)


_APP_PERMISSIONS = tuple(sorted(GRAPH_APP_PERMISSION_NAMES | MDE_APP_PERMISSION_NAMES))


def _application(f: _Fields) -> Application:
    from cryptography import x509

    certificates = f.strings("certificates")
    for i, pem in enumerate(certificates):
        try:
            x509.load_pem_x509_certificate(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            f.fail(f"certificates[{i}]", "is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    app = Application(client_id=f.guid("client_id"), display_name=f.text("display_name"),
                      certificates=certificates, permissions=f.strings("permissions", choices=_APP_PERMISSIONS))
    f.done()
    return app




def scenario_from_dict(data: Mapping[str, Any], source: str = "<in-memory scenario>") -> Scenario:
    """Validate a scenario given as a dict (the TOML data); ``source`` names it in errors.

    ``scenario.extends`` works as in files (the named shipped scenario is the base)."""
    merged: dict[str, Any] = copy.deepcopy(dict(data))
    parent = merged.get("scenario", {}).get("extends") if isinstance(merged.get("scenario"), dict) else None
    if parent is not None:
        if not isinstance(parent, str) or not _NAME.match(parent):
            raise UsageError(f"scenario {source!r}: field scenario.extends must name a shipped scenario.",
                             title="Invalid scenario")
        base = _read_with_extends(_resolve(parent), [])
        base.get("scenario", {}).pop("extends", None)
        merged["scenario"].pop("extends", None)
        merged = _deep_merge(base, merged)
    return _build(merged, source)
