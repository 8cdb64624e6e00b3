"""Acknowledgements that expire: an accepted deviation, written down with who, when, why and until when.

An answers file may acknowledge a check by its id (``[acknowledgements."devices.av_mode"]``) with
``by``, ``at``, a ``reason`` and an optional ``expires`` date; a skipped role's acknowledgement
(``[acknowledgements.skip_security_operator]``) may carry a ``reason`` and ``expires`` too, and then
acknowledges the ``experts.roles`` warning once every skipped role is acknowledged so.

:func:`evaluate` decides, from the results and the day of the report, each acknowledgement's state:

- ``active``: the check keeps its status and is marked acknowledged, listed with its reason and expiry,
  and it does not count towards the exit code (:func:`counting`);
- ``expired`` (on and after the ``expires`` date): the check counts again, and the report says
  "acknowledgement expired on DATE";
- ``not_applied``: a blocker (a blocker-severity check that failed or could not be read) is never
  acknowledged; it counts;
- ``not_needed``: the check passes (or is skipped or information) now: nothing is waived.

Pure apart from :func:`read_answers_file`; the wizard's session can call :func:`parse_entries` with the
entries it holds and :func:`evaluate` / :func:`attach` with its results and report.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dex_tui.answers import Answers
from dex_tui.catalogue import ALL_CHECK_IDS
from dex_tui.errors import UsageError
from dex_tui.results import CheckResult, Severity, Status

ROLE_KEYS = {"skip_security_operator": "security_operator", "skip_security_administrator": "security_administrator"}
ROLES_CHECK = "experts.roles"
MAX_REASON = 500
_WAIVABLE = (Status.WARN, Status.FAIL, Status.UNKNOWN)


@dataclass(frozen=True)
class Acknowledgement:
    """One written-down acceptance: of a check (``key`` is its id) or of a skipped role (``key`` is
    ``skip_<role>``, for :data:`ROLES_CHECK`)."""

    key: str
    by: str
    at: str
    reason: str
    expires: date | None = None

    @property
    def check_id(self) -> str:
        return ROLES_CHECK if self.key in ROLE_KEYS else self.key

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "by": self.by, "at": self.at, "reason": self.reason,
                "expires": self.expires.isoformat() if self.expires else None}


@dataclass(frozen=True)
class Outcome:
    """What became of the acknowledgement(s) of one check in one run."""

    check_id: str
    state: str  # active, expired, not_applied, not_needed
    acknowledgements: tuple[Acknowledgement, ...]
    why: str

    @property
    def expires(self) -> date | None:
        dates = [a.expires for a in self.acknowledgements if a.expires is not None]
        return min(dates) if dates else None

    def to_dict(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "state": self.state, "why": self.why,
                "expires": self.expires.isoformat() if self.expires else None,
                "acknowledgements": [a.to_dict() for a in self.acknowledgements]}


# ------------------------------------------------------------------------------------ parsing


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{where}: 'expires' must be a date, e.g. 2026-12-31.")


def parse_entries(raw: Mapping[str, Any], where: str = "answers") -> list[Acknowledgement]:
    """The acknowledgements of checks and the reasoned role skips in an answers file's
    ``acknowledgements`` table; every problem is a UsageError naming the entry."""
    entries: list[Acknowledgement] = []
    for key, value in raw.items():
        place = f"{where}: acknowledgements.{key}"
        if key not in ROLE_KEYS and key not in ALL_CHECK_IDS:
            raise UsageError(f"{place} is neither a check id nor a role skip; use a check id from the README "
                             f"('Checks') or {', '.join(ROLE_KEYS)}.")
        if not isinstance(value, dict):
            raise UsageError(f"{place} must be a table with by, at, reason and optionally expires.")
        unknown = sorted(set(value) - {"by", "at", "reason", "expires"})
        if unknown:
            raise UsageError(f"{place}: unknown field {unknown[0]!r}.")
        by, at = value.get("by"), value.get("at")
        if not isinstance(by, str) or not by.strip():
            raise UsageError(f"{place}: needs 'by' (who acknowledged).")
        if isinstance(at, datetime):
            at = at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        if not isinstance(at, str):
            raise UsageError(f"{place}: needs 'at' (when, ISO 8601 UTC, e.g. 2026-11-24T10:00:00Z).")
        try:
            datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{place}: 'at' = {at[:40]!r} is not an ISO 8601 date and time.") from None
        reason = value.get("reason")
        if key in ROLE_KEYS and reason is None:
            if "expires" in value:
                raise UsageError(f"{place}: 'expires' needs a 'reason' (why the skip is accepted).")
            continue  # a role skip acknowledged as before: the warning still counts
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{place}: needs a 'reason' (why the deviation is accepted).")
        if len(reason) > MAX_REASON:
            raise UsageError(f"{place}: the reason is longer than {MAX_REASON} characters.")
        entries.append(Acknowledgement(key=key, by=by.strip(), at=at, reason=reason.strip(),
                                       expires=_date(value.get("expires"), place)))
    return entries


def read_answers_file(path: Path) -> tuple[Answers, list[Acknowledgement]]:
    """An answers file's decisions and its acknowledgements of checks. The check-id entries are taken out
    before :meth:`Answers.from_dict` sees the rest; the reasoned role skips stay in both."""
    from dex_tui.answers import load_answers
    from dex_tui.localfiles import read_bounded

    try:
        data = tomllib.loads(read_bounded(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        load_answers(path)  # raises the answers file's own one-line error for the same problem
        raise UsageError(f"answers file {str(path)!r} cannot be read.") from None
    where = f"answers file {str(path)!r}"
    raw = data.get("acknowledgements", {})
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: acknowledgements must be a table.")
    entries = parse_entries(raw, where)
    rest = dict(data)
    rest["acknowledgements"] = {k: {f: v[f] for f in ("by", "at") if f in v}
                                for k, v in raw.items() if k in ROLE_KEYS and isinstance(v, dict)}
    return Answers.from_dict(rest, where=where), entries


# ------------------------------------------------------------------------------------ deciding


def _is_blocker(result: CheckResult) -> bool:
    return result.severity is Severity.BLOCKER and result.status in (Status.FAIL, Status.UNKNOWN)


def evaluate(results: Sequence[CheckResult], entries: Iterable[Acknowledgement], today: date,
             answers: Answers | None = None) -> list[Outcome]:
    """The state of each acknowledged check on ``today`` (the report's day), in the results' order."""
    by_check: dict[str, list[Acknowledgement]] = {}
    for entry in entries:
        by_check.setdefault(entry.check_id, []).append(entry)
    outcomes = []
    for result in results:
        acks = tuple(by_check.get(result.id, ()))
        if not acks:
            continue
        if result.id == ROLES_CHECK and answers is not None:
            covered = {ROLE_KEYS[a.key] for a in acks if a.key in ROLE_KEYS}
            missing = [r for r in answers.skipped_roles() if r not in covered]
            if missing and result.status in _WAIVABLE:
                outcomes.append(Outcome(result.id, "not_applied", acks,
                                        f"Not every skipped role is acknowledged with a reason "
                                        f"({', '.join(m.replace('_', ' ') for m in missing)} is not)."))
                continue
        outcomes.append(_decide(result, acks, today))
    return outcomes


def _decide(result: CheckResult, acks: tuple[Acknowledgement, ...], today: date) -> Outcome:
    if result.status not in _WAIVABLE:
        return Outcome(result.id, "not_needed", acks, f"The check is {result.status.value} now: nothing is waived.")
    if _is_blocker(result):
        return Outcome(result.id, "not_applied", acks,
                       f"A blocker ({result.status.value}) cannot be acknowledged; it still counts.")
    ends = [a.expires for a in acks if a.expires is not None]
    if ends and min(ends) <= today:
        return Outcome(result.id, "expired", acks, f"acknowledgement expired on {min(ends).isoformat()}")
    return Outcome(result.id, "active", acks, f"until {min(ends).isoformat()}" if ends else "with no expiry")


def counting(results: Sequence[CheckResult], outcomes: Iterable[Outcome]) -> list[CheckResult]:
    """The results that count towards the exit code: all but those acknowledged (``active``)."""
    waived = {o.check_id for o in outcomes if o.state == "active"}
    return [r for r in results if r.id not in waived]


def report_day(report: Mapping[str, Any]) -> date:
    """The day a report was made (its ``generated_at``, UTC): the day expiries are judged on."""
    return datetime.fromisoformat(str(report["generated_at"]).replace("Z", "+00:00")).astimezone(UTC).date()


def attach(report: Mapping[str, Any], results: Sequence[CheckResult], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """A copy of ``report`` with ``acknowledgements[]``, each acknowledged check marked with its
    ``acknowledgement``, and the verdict and exit code recomputed without the active ones."""
    from dex_tui.report import VERDICT_TEXT, VERDICTS, exit_code_for

    if not outcomes:
        return dict(report)
    by_id = {o.check_id: o for o in outcomes}
    out = dict(report)
    out["checks"] = [{**c, "acknowledgement": by_id[c["id"]].to_dict()} if c["id"] in by_id else c
                     for c in report["checks"]]
    out["acknowledgements"] = [o.to_dict() for o in outcomes]
    code = exit_code_for(counting(results, outcomes))
    out["verdict"], out["exit_code"] = VERDICTS[code], int(code)
    out["verdict_text"] = VERDICT_TEXT[VERDICTS[code]]
    active = sum(1 for o in outcomes if o.state == "active")
    if active:
        counted = f"{active} acknowledged check{'s do' if active != 1 else ' does'} not count (see Acknowledgements)."
        out["verdict_text"] = (f"Ready: every required check passed or is acknowledged; {counted}"
                               if out["verdict"] == "ready" else f"{out['verdict_text']} {counted}")
    out["summary"] = {**report["summary"], "acknowledged": active}
    return out


__all__ = ["Acknowledgement", "Outcome", "attach", "counting", "evaluate", "parse_entries",
           "read_answers_file", "report_day"]
