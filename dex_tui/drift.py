"""Drift between two runs: each check of this report classed against a previous report of the same
tenant and service as ``new``, ``fixed``, ``regressed`` or ``unchanged``.

The previous report is a hostile file: it is read size-capped, must be a regular file, and must have
the report's shape (schema version, tenant, service, date, checks with known statuses); anything else
is a :class:`PreviousReportError` (exit 4) naming what is wrong, never a traceback. Reports of another
tenant, service or schema version are refused the same way (:class:`DriftRefused`).

Pure apart from :func:`load_previous` and :func:`latest_previous`: the wizard's session can call
:func:`latest_previous` with the report files it knows of (or :func:`parse_previous` with a report it
already holds), then :func:`compare` and :func:`attach`.

How a status change is classed (``classify``): ``regressed`` is pass -> warn/fail, warn -> fail, and
anything -> unknown; ``fixed`` is the reverse (warn/fail -> pass, fail -> warn, unknown -> anything
else). Statuses that ask nothing of anyone (pass, skipped, info) stand level with each other, so
pass -> skipped is ``unchanged`` (the change still shows its before and after), while skipped -> warn
is a regression. ``new``: the check is not in the previous report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from dex_tui.errors import ExitCode, UsageError
from dex_tui.localfiles import NotRegularFile, TooLarge, read_regular
from dex_tui.records import dataclass
from dex_tui.results import Status
from dex_tui.safety import clean_text

SCHEMA_VERSION = 1  # the report schema this module reads (report.SCHEMA_VERSION; a test keeps them equal)
MAX_PREVIOUS_BYTES = 8 * 1024 * 1024  # a report of every check with its evidence is well under 1 MB
MAX_CHECKS = 500
_CHECK_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}(\.[a-z][a-z0-9_]{0,39}){1,3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_STATUSES = frozenset(s.value for s in Status)
_SERVICES = ("xdr", "hunting")
# How much a status asks of someone: pass, skipped and info nothing; warn attention; fail a fix.
_RANK = {"pass": 0, "skipped": 0, "info": 0, "warn": 1, "fail": 2}


class Change(StrEnum):
    NEW = "new"
    FIXED = "fixed"
    REGRESSED = "regressed"
    UNCHANGED = "unchanged"


class PreviousReportError(UsageError):
    """The file given to --compare cannot be used as a previous report."""

    default_title = "Cannot compare"


class DriftRefused(PreviousReportError):
    """The previous report is of another tenant, service or schema version."""


@dataclass(frozen=True)
class PreviousReport:
    """What a comparison needs of a previous report, validated: no other field of it is kept."""

    generated_at: str
    tenant_id: str
    service: str
    statuses: Mapping[str, str]  # check id -> status
    source: str = "the previous report"  # how to name it in messages (a path, or "the last run")


@dataclass(frozen=True)
class CheckChange:
    id: str
    change: Change
    before: str | None  # None for a new check
    after: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "change": self.change.value, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Drift:
    """Every check of the current report against the previous one, in the current report's order."""

    since: str  # the previous report's generated_at
    changes: tuple[CheckChange, ...]

    def of(self, change: Change) -> list[CheckChange]:
        return [c for c in self.changes if c.change is change]

    @property
    def regressed(self) -> bool:
        return any(c.change is Change.REGRESSED for c in self.changes)

    def counts(self) -> dict[str, int]:
        return {change.value: len(self.of(change)) for change in Change}


def classify(before: str | None, after: str) -> Change:
    """The class of one check's move from ``before`` (None: absent) to ``after``."""
    if before is None:
        return Change.NEW
    if before == after:
        return Change.UNCHANGED
    if after == "unknown":
        return Change.REGRESSED
    if before == "unknown":
        return Change.FIXED
    rank_before, rank_after = _RANK[before], _RANK[after]
    if rank_after > rank_before:
        return Change.REGRESSED
    if rank_after < rank_before:
        return Change.FIXED
    return Change.UNCHANGED


# ------------------------------------------------------------------------------------ reading


def load_previous(path: Path, option: str = "--compare") -> PreviousReport:
    """Read and validate a previous JSON report from ``path`` (a regular file of at most
    :data:`MAX_PREVIOUS_BYTES`). Raises :class:`PreviousReportError` (exit 4)."""
    shown = repr(str(path))
    try:
        data = read_regular(path, MAX_PREVIOUS_BYTES)
    except FileNotFoundError:
        raise PreviousReportError(f"{option}: {shown} does not exist.",
                                  next_step="Give the JSON report of an earlier 'dex-tui check' run.") from None
    except NotRegularFile as exc:
        if exc.is_dir:
            raise PreviousReportError(f"{option}: {shown} is a directory; give the previous JSON report "
                                      "file.") from None
        raise PreviousReportError(f"{option}: {shown} is not a regular file (a device, pipe or socket).",
                                  next_step="Give the JSON report file of an earlier run.") from None
    except TooLarge:
        raise _too_big(option, shown) from None
    except OSError as exc:
        raise PreviousReportError(f"{option}: {shown} cannot be read ({exc.strerror}).",
                                  next_step="Check the path and its permissions.") from None
    return parse_previous_bytes(data, source=f"{option} {shown}")


def _too_big(option: str, shown: str) -> PreviousReportError:
    return PreviousReportError(f"{option}: {shown} is larger than {MAX_PREVIOUS_BYTES // (1024 * 1024)} MB, "
                               "far more than any report; it is not read.",
                               next_step="Give the JSON report of an earlier 'dex-tui check' run.")


def parse_previous_bytes(data: bytes, *, source: str = "the previous report") -> PreviousReport:
    """Decode and validate a previous report given as bytes (UTF-8 JSON)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PreviousReportError(f"{source} is not UTF-8 text, so not a JSON report.",
                                  next_step="Give the JSON report (--format json) of an earlier run.") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise PreviousReportError(f"{source} is nested too deeply to be a report.") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise PreviousReportError(
            f"{source} is not valid JSON{where}.",
            next_step="Give the JSON report (--format json) of an earlier run, not its text, Markdown or "
                      "HTML view.") from None
    return parse_previous(value, source=source)


def parse_previous(value: Any, *, source: str = "the previous report") -> PreviousReport:
    """Validate a decoded previous report (a dict as :func:`dex_tui.report.build_report` makes)."""
    def wrong(what: str) -> PreviousReportError:
        return PreviousReportError(f"{source} is not a dex-tui JSON report: {what}.",
                                   next_step="Give the JSON report (--format json) of an earlier run.")

    if not isinstance(value, dict):
        raise wrong(f"it holds a JSON {_json_type(value)}, not an object")
    version = value.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise wrong("it has no schema_version")
    if version != SCHEMA_VERSION:
        raise DriftRefused(
            f"{source} has report schema version {version}; this dex-tui writes and compares version "
            f"{SCHEMA_VERSION} only.",
            next_step="Compare with a report written by a dex-tui of the same schema version.")
    tenant = value.get("tenant")
    if not isinstance(tenant, dict) or not isinstance(tenant.get("id"), str):
        raise wrong("it has no tenant.id")
    tenant_id = tenant["id"].strip().lower()
    if len(tenant_id) > 200:
        raise wrong("its tenant.id is too long")
    service = value.get("service")
    if service not in _SERVICES:
        raise wrong("its service is not xdr or hunting")
    generated_at = value.get("generated_at")
    if not isinstance(generated_at, str) or not _DATE.match(generated_at):
        raise wrong("its generated_at is not an ISO 8601 date and time")
    checks = value.get("checks")
    if not isinstance(checks, list):
        raise wrong("it has no checks list")
    if len(checks) > MAX_CHECKS:
        raise wrong(f"it lists {len(checks)} checks, more than any report has")
    statuses: dict[str, str] = {}
    for number, check in enumerate(checks, 1):
        if not isinstance(check, dict):
            raise wrong(f"check {number} is not an object")
        check_id, status = check.get("id"), check.get("status")
        if not isinstance(check_id, str) or not _CHECK_ID.match(check_id):
            raise wrong(f"check {number} has no valid id")
        if status not in _STATUSES:
            raise wrong(f"check {check_id} has the status {clean_text(repr(status), 40)}, not one of "
                        f"{', '.join(sorted(_STATUSES))}")
        if check_id in statuses:
            raise wrong(f"the check {check_id} is listed twice")
        statuses[check_id] = status
    return PreviousReport(generated_at=generated_at, tenant_id=tenant_id, service=service,
                          statuses=statuses, source=source)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def latest_previous(candidates: Iterable[Path], tenant_id: str, service: str,
                    before: str | None = None) -> PreviousReport | None:
    """The newest report among ``candidates`` (JSON report files, e.g. the wizard's exports) of this
    tenant and service, made before ``before`` (a ``generated_at``) when given; None when none is.
    Files that cannot be read or are not reports are passed over: the caller offers a comparison, it
    does not insist on one."""
    wanted = (tenant_id or "").strip().lower()
    best: PreviousReport | None = None
    for path in candidates:
        try:
            found = load_previous(path, option="previous report")
        except PreviousReportError:
            continue
        if not wanted or found.tenant_id != wanted or found.service != service:
            continue
        if before is not None and _moment(found.generated_at) >= _moment(before):
            continue
        if best is None or _moment(found.generated_at) > _moment(best.generated_at):
            best = found
    return best


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------ comparing


def ensure_same_target(previous: PreviousReport, tenant_id: str, service: str) -> None:
    """Refuse (:class:`DriftRefused`) a previous report of another tenant or service.

    A run whose tenant id is not known cannot be matched, so it is refused too.
    """
    current = (tenant_id or "").strip().lower()
    if service != previous.service:
        raise DriftRefused(
            f"{previous.source} is a report for {_service_name(previous.service)}, and this run checks "
            f"{_service_name(service)}.",
            next_step="Compare reports of the same service (--service), or leave out --compare.")
    if not current or not previous.tenant_id:
        raise DriftRefused(
            f"The tenant of {'this run' if not current else previous.source} is not known, so it cannot be "
            "matched with the other report's.", next_step="Leave out --compare for this run.")
    if current != previous.tenant_id:
        raise DriftRefused(
            f"{previous.source} is a report of another tenant ({clean_text(previous.tenant_id, 80)}), and this "
            f"run checks the tenant {clean_text(current, 80)}.",
            next_step="Compare with a report of the same tenant, or leave out --compare.")


def _service_name(service: str) -> str:
    return {"xdr": "Defender Experts for XDR", "hunting": "Defender Experts for Hunting"}.get(service, service)


def compare(report: Mapping[str, Any], previous: PreviousReport) -> Drift:
    """Class every check of ``report`` (a report dict) against ``previous``; refuses another tenant or
    service (:class:`DriftRefused`)."""
    ensure_same_target(previous, str(report["tenant"]["id"]), str(report["service"]))
    changes = tuple(CheckChange(c["id"], classify(previous.statuses.get(c["id"]), c["status"]),
                                previous.statuses.get(c["id"]), c["status"]) for c in report["checks"])
    return Drift(since=previous.generated_at, changes=changes)


def attach(report: Mapping[str, Any], drift: Drift) -> dict[str, Any]:
    """A copy of ``report`` with ``compared_with`` and ``changes[]`` at the top level, and each check
    marked with its ``change`` and ``previous`` status and date (the README's report schema)."""
    by_id = {c.id: c for c in drift.changes}
    checks = []
    for check in report["checks"]:
        marked = dict(check)
        found = by_id.get(check["id"])
        if found is not None:
            marked["change"] = found.change.value
            marked["previous"] = {"status": found.before, "generated_at": drift.since}
        checks.append(marked)
    out = dict(report)
    out["compared_with"] = {"generated_at": drift.since, "counts": drift.counts(), "regressed": drift.regressed}
    out["changes"] = [c.to_dict() for c in drift.changes]
    out["checks"] = checks
    return out


def exit_code_with_regressions(verdict: int, drift: Drift | None) -> int:
    """``--fail-on-regression``: a regression makes the exit code 2 (a blocker's), unless the verdict
    is already 2 or 3 (could not evaluate), which it keeps."""
    if drift is None or not drift.regressed or verdict in (ExitCode.BLOCKER, ExitCode.CANNOT_EVALUATE):
        return int(verdict)
    return int(ExitCode.BLOCKER)


_LIST_ORDER = {"regressed": 0, "fixed": 1, "new": 2, "unchanged": 3}


def listed_changes(changes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries of a report's ``changes[]`` worth listing, regressions first: every class but
    ``unchanged``, and an ``unchanged`` one whose status still moved (pass -> skipped)."""
    return sorted((c for c in changes if c.get("change") != "unchanged" or c.get("before") != c.get("after")),
                  key=lambda c: _LIST_ORDER.get(str(c.get("change")), 4))
