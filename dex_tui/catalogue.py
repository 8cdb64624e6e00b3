"""The checks' catalogue (``assets/catalogue.toml``): titles, sources, remediation, the experts' roles
with the response actions lost when an optional role is skipped, and the licensing service plans.

The wizard shows the same role texts as the checks by reading them from here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from dex_tui.answers import OPTIONAL_ROLES, SERVICES
from dex_tui.assets import load_toml_asset
from dex_tui.directory_roles import ROLE_NAMES as DIRECTORY_ROLES
from dex_tui.errors import InternalError
from dex_tui.records import dataclass
from dex_tui.results import Group, Remediation, Severity, Source

CHECK_IDS: tuple[str, ...] = (
    "cloud.availability", "operator.roles", "license.mde_p2", "license.entra_p1", "license.mdo_p2",
    "license.mdi", "license.mdca", "coverage.iot", "devices.onboarded", "devices.av_mode", "experts.terms",
    "experts.license", "experts.roles", "access.service_provider", "access.conditional_access",
    "experts.credits", "data.residency",
)
# Today's flows (Defender Experts MDR, Hunting's onboarding; dex_tui/mdr_checks.py). The wizard's seed steps
# show CHECK_IDS (Catalogue.checks); reports show check_ids_for(service).
TODAY_CHECK_IDS: tuple[str, ...] = (
    "license.mdr_coverage", "license.entra_p2", "experts.access_level", "exclusions.groups",
    "contacts.notification", "teams.ready", "coverage.scoped", "readiness.protected_assets",
    "hunting.sample_notification",
)
# The stable order of every report: the seed checks with today's checks where they belong.
ALL_CHECK_IDS: tuple[str, ...] = (
    "cloud.availability", "operator.roles", "license.mde_p2", "license.mdr_coverage", "license.entra_p1",
    "license.entra_p2", "license.mdo_p2", "license.mdi", "license.mdca", "coverage.iot", "devices.onboarded",
    "devices.av_mode", "experts.terms", "experts.license", "experts.roles", "experts.access_level",
    "access.service_provider", "access.conditional_access", "exclusions.groups", "contacts.notification",
    "teams.ready", "coverage.scoped", "readiness.protected_assets", "hunting.sample_notification",
    "experts.credits", "data.residency",
)
assert set(ALL_CHECK_IDS) == set(CHECK_IDS) | set(TODAY_CHECK_IDS) and len(ALL_CHECK_IDS) == 26
ROLE_NAMES: tuple[str, ...] = ("security_reader", *OPTIONAL_ROLES)


@dataclass(frozen=True)
class Document:
    key: str
    title: str
    path: str
    ms_date: str
    url: str

    def source(self) -> Source:
        return Source(document=f"{self.title} ({self.path})", ms_date=self.ms_date, url=self.url)


@dataclass(frozen=True)
class CheckInfo:
    """What the catalogue says about one check (everything but its live outcome)."""

    id: str
    title: str
    services: tuple[str, ...]
    severity: Severity
    group: Group
    verifies: str
    limits: str
    sources: dict[str, Document]  # service -> document
    note: str
    remediation: Remediation
    severities: dict[str, Severity] | None = None  # service -> severity, where a service differs (severity_mdr)
    notes: dict[str, str] | None = None  # service -> note, where a service's differs (note_mdr)
    titles: dict[str, str] | None = None  # service -> title, where a service's rule differs (title_mdr)

    def source_for(self, service: str) -> Source:
        return self.sources[service].source()

    def severity_for(self, service: str) -> Severity:
        return (self.severities or {}).get(service, self.severity)

    def title_for(self, service: str) -> str:
        return (self.titles or {}).get(service, self.title)

    def note_for(self, service: str) -> str:
        return (self.notes or {}).get(service, self.note)


@dataclass(frozen=True)
class RoleInfo:
    """A role the experts can be given, and what they cannot do without it."""

    name: str
    label: str
    template_id: str
    level: str
    grants: str
    lost_summary: str
    lost_actions: tuple[str, ...]  # Security operator: the response actions lost when it is skipped
    adds: tuple[str, ...]  # Security administrator: what it would add
    source: Document
    note: str
    grants_without_operator: str = ""  # Security administrator: its grants when Security operator is skipped

    def skip_warning(self) -> str:
        """One paragraph naming what is lost when this optional role is skipped."""
        items = self.lost_actions or self.adds
        return f"{self.lost_summary} Lost: {'; '.join(items)}." if items else self.lost_summary


@dataclass(frozen=True)
class Catalogue:
    documents: dict[str, Document]
    checks: dict[str, CheckInfo]  # the seed flow's checks (CHECK_IDS), in the stable report order
    roles: dict[str, RoleInfo]
    plans: dict[str, dict[str, str]]  # capability -> {servicePlanId: servicePlanName}
    all_checks: dict[str, CheckInfo] | None = None  # every check (ALL_CHECK_IDS), today's flows included

    def check(self, check_id: str) -> CheckInfo:
        return (self.all_checks or self.checks)[check_id]

    def role(self, name: str) -> RoleInfo:
        return self.roles[name]

    def plan_ids(self, capability: str) -> dict[str, str]:
        return self.plans[capability]


def _fail(problem: str) -> InternalError:
    return InternalError(f"The shipped catalogue (assets/catalogue.toml) is broken: {problem}.",
                         next_step="Reinstall dex-tui.")


def _text(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise _fail(f"{where}.{key} must be a string")
    return value


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{where}.{key} must be an array of strings")
    return tuple(value)


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Validate the parsed TOML; any problem is an InternalError naming the field."""
    documents: dict[str, Document] = {}
    for key, table in (raw.get("documents") or {}).items():
        where = f"documents.{key}"
        documents[key] = Document(key, _text(table, "title", where), _text(table, "path", where),
                                  _text(table, "ms_date", where), _text(table, "url", where))

    def doc(key: str, where: str) -> Document:
        if key not in documents:
            raise _fail(f"{where} names the unknown document {key!r}")
        return documents[key]

    checks: dict[str, CheckInfo] = {}
    for i, table in enumerate(raw.get("check") or []):
        where = f"check[{i}]"
        check_id = _text(table, "id", where)
        services = _strings(table, "services", where)
        if not services or any(s not in SERVICES for s in services):
            raise _fail(f"{where}.services must list some of {', '.join(SERVICES)}")
        try:
            severity, group = Severity(_text(table, "severity", where)), Group(_text(table, "group", where))
        except ValueError as exc:
            raise _fail(f"{where}: {exc}") from exc
        default_doc = doc(_text(table, "source", where), f"{where}.source")
        sources = {service: doc(_text(table, f"source_{service}", where, default_doc.key), where)
                   for service in SERVICES}
        remediation = table.get("remediation", {})
        try:
            severities = {service: Severity(table[f"severity_{service}"]) for service in SERVICES
                          if f"severity_{service}" in table}
        except ValueError as exc:
            raise _fail(f"{where}: {exc}") from exc
        notes = {service: _text(table, f"note_{service}", where) for service in SERVICES if f"note_{service}" in table}
        titles = {service: _text(table, f"title_{service}", where) for service in SERVICES
                  if f"title_{service}" in table}
        checks[check_id] = CheckInfo(
            severities=severities or None, notes=notes or None, titles=titles or None,
            id=check_id, title=_text(table, "title", where), services=services, severity=severity, group=group,
            verifies=_text(table, "verifies", where), limits=_text(table, "limits", where), sources=sources,
            note=_text(table, "note", where, ""),
            remediation=Remediation(_text(remediation, "action", where, ""), _text(remediation, "where", where, ""),
                                    _text(remediation, "link", where, "")))
    if tuple(checks) != ALL_CHECK_IDS:
        raise _fail(f"the checks must be exactly, in order: {', '.join(ALL_CHECK_IDS)}")

    roles: dict[str, RoleInfo] = {}
    for name in ROLE_NAMES:
        table = (raw.get("roles") or {}).get(name)
        where = f"roles.{name}"
        if not isinstance(table, dict):
            raise _fail(f"{where} is missing")
        roles[name] = RoleInfo(name=name, label=_text(table, "label", where),
                               template_id=_text(table, "template_id", where), level=_text(table, "level", where),
                               grants=_text(table, "grants", where),
                               lost_summary=_text(table, "lost_summary", where, ""),
                               lost_actions=_strings(table, "lost_actions", where), adds=_strings(table, "adds", where),
                               source=doc(_text(table, "source", where), f"{where}.source"),
                               note=_text(table, "note", where, ""),
                               grants_without_operator=_text(table, "grants_without_operator", where, ""))
        if DIRECTORY_ROLES.get(roles[name].template_id, "").lower() != roles[name].label.lower():
            raise _fail(f"{where}.template_id is not the template ID of the {roles[name].label} directory role "
                        "(dex_tui/directory_roles.py)")
    if not roles["security_operator"].lost_actions or not roles["security_administrator"].adds:
        raise _fail("roles.security_operator.lost_actions and roles.security_administrator.adds must not be empty")

    plans: dict[str, dict[str, str]] = {}
    for capability, table in (raw.get("plans") or {}).items():
        where = f"plans.{capability}"
        names, ids = _strings(table, "names", where), _strings(table, "ids", where)
        if len(names) != len(ids) or not ids:
            raise _fail(f"{where}: names and ids must be non-empty and of the same length")
        plans[capability] = {plan_id.lower(): plan_name for plan_id, plan_name in zip(ids, names, strict=True)}
    return Catalogue(documents=documents, checks={i: checks[i] for i in CHECK_IDS}, roles=roles, plans=plans,
                     all_checks=checks)


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read once."""
    return parse_catalogue(load_toml_asset("catalogue.toml"))


def check_ids_for(service: str) -> tuple[str, ...]:
    """The checks a report for ``service`` lists, in the stable order: every seed check (those that do
    not apply are ``skipped`` with why, as before) and today's checks that apply to ``service``."""
    infos = catalogue().all_checks or catalogue().checks
    return tuple(i for i in ALL_CHECK_IDS if i in CHECK_IDS or service in infos[i].services)


def skip_warning(role: str) -> str:
    """What the experts cannot do when ``role`` (security_operator / security_administrator) is skipped."""
    return catalogue().role(role).skip_warning()
