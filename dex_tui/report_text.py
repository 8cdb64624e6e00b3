"""The readiness report as text for a terminal (``dex-tui check``'s default there), optionally coloured
and wrapped to the terminal's width; imported only when that format is asked for."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any

from dex_tui.report import (
    GROUP_TITLES,
    _ack_lines,
    _ack_mark,
    _change_status,
    _changes_counts,
    _changes_heading,
    _groups,
)
from dex_tui.safety import clean_text, is_allowed_link

_COLORS = {"pass": "32", "warn": "33", "fail": "31", "unknown": "35", "skipped": "2", "info": "36"}


_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def _tag(status: str, color: bool) -> str:
    text = f"{status.upper():<7}"
    return f"\x1b[{_COLORS[status]}m{text}\x1b[0m" if color else text


def _wrapped(first: str, text: str, width: int | None) -> list[str]:
    """``first`` + ``text`` as one line; with ``width``, ``text`` wrapped to it under its own first column
    (or, on a terminal too narrow for that column, on the lines below ``first``, indented)."""
    if not width:
        return [first + text]
    column = len(_ESCAPES.sub("", first))
    if width - column < 30:
        return [first.rstrip(), *textwrap.wrap(text, max(width - 4, 20), initial_indent="    ",
                                               subsequent_indent="    ", break_on_hyphens=False)]
    body = textwrap.wrap(text, width - column, break_on_hyphens=False) or [""]
    return [first + body[0], *(" " * column + line for line in body[1:])]


def render_text(report: Mapping[str, Any], *, color: bool = False, width: int | None = None) -> str:
    """A terminal view: tenant, verdict, one line per check, then the details of what needs action."""
    t = report["tenant"]
    lines = [*_wrapped(f"{report['service_name']}: readiness of ",
                       (clean_text(t['name']) or t['id'] or 'the tenant')
                       + (f" ({t['id']})" if t["id"] and t["name"] else ""), width),
             f"Cloud: {t['cloud_label']}" + (" (detected, a hint)" if t["cloud_detected"] else "")
             + (f"   Demo scenario: {clean_text(report['demo'])}" if report.get("demo") else ""),
             *_wrapped("Operator: ", f"{clean_text(report['operator']['user_principal_name'] or report['operator']['display_name']) or '-'}   "
                       f"Generated: {report['generated_at']}", width), ""]
    lines += _changes_text(report, color, width)
    for group, checks in _groups(report):
        if not checks:
            continue
        lines.append(f"{GROUP_TITLES[group]}:")
        for check in checks:
            lines += _wrapped(f"  {_tag(check['status'], color)} {check['id']:<27} ",
                              _ack_mark(check) + clean_text(check['summary'], 2000), width)
        lines.append("")
    lines += _acknowledgements_text(report, width)
    attention = [c for c in report["checks"] if c["status"] in ("fail", "warn", "unknown")]
    if attention:
        lines.append("What to do:")
        for check in attention:
            action = check["remediation"]["action"]
            where = check["remediation"]["where"]
            link = check["remediation"]["link"]
            lines += _wrapped(f"  {check['id']}: ", clean_text(action, 2000) or "see the summary above", width)
            if where:
                lines += _wrapped("      where: ", clean_text(where), width)
            if link and is_allowed_link(link):
                lines.append(f"      link:  {link}")
        lines.append("")
    s = report["summary"]
    lines += _wrapped("Summary: ", f"{s['pass']} pass, {s['warn']} warn, {s['fail']} fail, {s['unknown']} unknown, "
                      f"{s['skipped']} skipped, {s['info']} info.", width)
    lines += _wrapped("Verdict: ", f"{report['verdict_text']} (exit code {report['exit_code']})", width)
    return "\n".join(lines) + "\n"



def _acknowledgements_text(report: Mapping[str, Any], width: int | None) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    lines = ["Acknowledgements:"]
    for check_id, text in rows:
        lines += _wrapped(f"  {clean_text(check_id, 60)}: ", text, width)
    return [*lines, ""]



_CHANGE_COLORS = {"regressed": "31", "fixed": "32", "new": "36"}


def _changes_text(report: Mapping[str, Any], color: bool, width: int | None) -> list[str]:
    if "changes" not in report:
        return []
    from dex_tui.drift import listed_changes

    lines = _wrapped(f"{_changes_heading(report)}: ", f"{_changes_counts(report)}.", width)
    for c in listed_changes(report["changes"]):
        tag = f"{clean_text(c['change'], 20).upper():<10}"
        if color and c["change"] in _CHANGE_COLORS:
            tag = f"\x1b[{_CHANGE_COLORS[c['change']]}m{tag}\x1b[0m"
        lines += _wrapped(f"  {tag} {clean_text(c['id'], 60):<27} ",
                          f"{_change_status(c['before'])} -> {clean_text(c['after'], 20)}", width)
    return [*lines, ""]
