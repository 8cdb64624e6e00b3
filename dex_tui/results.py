"""What a check produces: its status, severity, evidence, remediation and source.

Check ids, statuses and severities are a contract other tools parse (README, "Report schema").
"""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import Any

from dex_tui.records import dataclass


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    INFO = "info"


class Severity(StrEnum):
    BLOCKER = "blocker"
    RECOMMENDED = "recommended"
    INFO = "info"


class Group(StrEnum):
    """How the wizard groups checks on the eligibility screen."""

    REQUIRED = "required"
    COVERAGE = "coverage"
    INFORMATION = "information"


@dataclass(frozen=True)
class Source:
    """The document a check rests on, with its ``ms.date`` (reference/domain.md)."""

    document: str
    ms_date: str
    url: str = ""


@dataclass(frozen=True)
class Remediation:
    """What to do, where, and a link (empty when nothing is to be done)."""

    action: str = ""
    where: str = ""
    link: str = ""


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    services: tuple[str, ...]
    severity: Severity
    status: Status
    summary: str
    group: Group = Group.REQUIRED
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: Remediation = Remediation()
    source: Source = Source("", "")
    note: str = ""  # where today's documents differ from the seed flow, or why a check is a hint

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "services": list(self.services),
            "severity": self.severity.value,
            "status": self.status.value,
            "group": self.group.value,
            "summary": self.summary,
            "evidence": self.evidence,
            "remediation": {"action": self.remediation.action, "where": self.remediation.where,
                            "link": self.remediation.link},
            "source": {"document": self.source.document, "ms_date": self.source.ms_date,
                       "url": self.source.url},
            "note": self.note,
        }
