"""Acknowledgements that expire: an accepted deviation, written down with who, when, why and until when.

The answers (``dex_tui.answers``, the one reader of the answers file and the progress file) hold them
by key: a check id (``[acknowledgements."devices.av_mode"]``) with ``by``, ``at``, a ``reason`` and an
optional ``expires`` date, or a skipped role (``[acknowledgements.skip_security_operator]``), which with
a ``reason`` (and optionally ``expires``) acknowledges the ``experts.roles`` warning once every skipped
role is acknowledged so. The wizard records them through ``WizardSession.acknowledge`` and
``decide_role``.

:func:`evaluate` decides, from the results and the day of the report, each acknowledgement's state:

- ``active``: the check keeps its status and is marked acknowledged, listed with its reason and expiry,
  and it does not count towards the exit code (:func:`counting`);
- ``expired`` (on and after the ``expires`` date): the check counts again, and the report says
  "acknowledgement expired on DATE";
- ``not_applied``: a blocker (a blocker-severity check that failed or could not be read) is never
  acknowledged; it counts;
- ``not_needed``: the check passes (or is skipped or information) now: nothing is waived.

Pure: the entries are ``Answers.waivers()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from dex_tui.answers import MAX_REASON, ROLE_KEYS, ROLES_CHECK, Acknowledgement, Answers
from dex_tui.errors import UsageError
from dex_tui.records import dataclass
from dex_tui.results import CheckResult, Severity, Status

_WAIVABLE = (Status.WARN, Status.FAIL, Status.UNKNOWN)


class AcknowledgementRefused(UsageError):
    """The wizard will not record this acknowledgement (a blocker, no reason, a past expiry)."""

    default_title = "Cannot acknowledge"


def parse_expiry(text: str, today: date) -> date | None:
    """The expiry an operator typed (``YYYY-MM-DD``; empty: none), which must be a real date after
    ``today``; :class:`AcknowledgementRefused` saying what to type otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise AcknowledgementRefused(f"{text[:40]!r} is not a date.",
                                     next_step="Type the expiry as YYYY-MM-DD, e.g. 2027-03-31, or leave it empty.")
    if day <= today:
        raise AcknowledgementRefused(f"The expiry {day.isoformat()} is not after today ({today.isoformat()}): the "
                                     "acknowledgement would have expired already.",
                                     next_step="Give a later date, or leave it empty for no expiry.")
    return day


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
                "acknowledgements": [{"key": a.key, "by": a.by, "at": a.at, "reason": a.reason,
                                      "expires": a.expires.isoformat() if a.expires else None}
                                     for a in self.acknowledgements]}


def acknowledgeable(result: CheckResult) -> bool:
    """Whether the wizard may offer to acknowledge ``result``: it asks for attention (warn, fail or
    unknown) and it is not a blocker that failed or could not be read."""
    return result.status in _WAIVABLE and not _is_blocker(result)


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


def verdict_words(verdict: str, active: int, listed_under: str = "Acknowledgements") -> str:
    """The verdict in words (``report.VERDICT_TEXT``), saying how many acknowledged checks do not count
    and under which heading they are listed."""
    from dex_tui.report import VERDICT_TEXT

    if not active:
        return VERDICT_TEXT[verdict]
    counted = f"{active} acknowledged check{'s do' if active != 1 else ' does'} not count (see {listed_under})."
    return (f"Ready: every required check passed or is acknowledged; {counted}" if verdict == "ready"
            else f"{VERDICT_TEXT[verdict]} {counted}")


def attach(report: Mapping[str, Any], results: Sequence[CheckResult], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """A copy of ``report`` with ``acknowledgements[]``, each acknowledged check marked with its
    ``acknowledgement``, and the verdict and exit code recomputed without the active ones."""
    from dex_tui.report import VERDICTS, exit_code_for

    if not outcomes:
        return dict(report)
    by_id = {o.check_id: o for o in outcomes}
    out = dict(report)
    out["checks"] = [{**c, "acknowledgement": by_id[c["id"]].to_dict()} if c["id"] in by_id else c
                     for c in report["checks"]]
    out["acknowledgements"] = [o.to_dict() for o in outcomes]
    code = exit_code_for(counting(results, outcomes))
    out["verdict"], out["exit_code"] = VERDICTS[code], int(code)
    active = sum(1 for o in outcomes if o.state == "active")
    out["verdict_text"] = verdict_words(out["verdict"], active)
    out["summary"] = {**report["summary"], "acknowledged": active}
    return out


__all__ = ["MAX_REASON", "ROLES_CHECK", "Acknowledgement", "AcknowledgementRefused", "Outcome", "acknowledgeable",
           "attach", "counting", "evaluate", "parse_expiry", "report_day", "verdict_words"]
