"""The readiness report as Markdown; imported only when that format is asked for. Everything a tenant
supplied is backslash-escaped (:func:`md`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dex_tui.report import (
    GROUP_TITLES,
    _ack_lines,
    _ack_mark,
    _change_status,
    _changes_counts,
    _changes_heading,
    _evidence_lines,
    _groups,
    _remediation,
)
from dex_tui.safety import clean_text, is_allowed_link

# Everything is rendered inline (never at a line start), so list and heading markers need no escape;
# emphasis, code, links, tables, HTML, entities and GFM autolinks do.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~!])")
_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def md(value: Any, limit: int = 2000) -> str:
    """A tenant (or any) string as inert Markdown text: no markup, no HTML, no links, no line breaks."""
    text = clean_text(value, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def md_code(value: Any) -> str:
    """A value as a Markdown code span (backslash escapes do not apply inside one)."""
    text = clean_text(value, 200).replace("`", "'")
    return f"`{text}`" if text else ""


def _md_link(label: str, url: str) -> str:
    if not url or not is_allowed_link(url):
        return md(label)
    safe = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{md(label)}]({safe})"


def _evidence_markdown(evidence: list[tuple[str, str]]) -> list[str]:
    """The evidence as nested list items: an entry's indent (two spaces a level, see
    :func:`_evidence_lines`) becomes one more level of the list, so a table's entries sit under it."""
    lines = []
    for label, value in evidence:
        name = label.strip()
        pad = "  " * ((len(label) - len(label.lstrip(" "))) // 2 + 1)
        if name == "-":
            lines.append(f"{pad}- {md(value)}")
        else:
            lines.append(f"{pad}- {md(name)}: {md(value)}" if value else f"{pad}- {md(name)}:")
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    t, op, s = report["tenant"], report["operator"], report["summary"]
    out = [f"# {md(report['service_name'])}: readiness report", "",
           f"- **Tenant:** {md(t['name']) or '-'} ({md_code(t['id'])}), {md(t['default_domain']) or '-'}",
           f"- **Cloud:** {md(t['cloud_label'])}" + (" (detected from OpenID metadata: a hint)" if t["cloud_detected"]
                                                      else ""),
           f"- **Operator:** {md(op['user_principal_name'] or op['display_name']) or '-'}; roles: {md(', '.join(op['roles'])) or 'none'}",
           f"- **Generated:** {md(report['generated_at'])} by {md(report['tool']['name'])} "
           f"{md(report['tool']['version'])}" + (f" (demo scenario {md(report['demo'])})" if report.get("demo") else ""),
           f"- **Verdict:** **{md(report['verdict'])}** (exit code {report['exit_code']}): {md(report['verdict_text'])}",
           "", *_changes_markdown(report),
           "| pass | warn | fail | unknown | skipped | info |",
           "|---|---|---|---|---|---|",
           f"| {s['pass']} | {s['warn']} | {s['fail']} | {s['unknown']} | {s['skipped']} | {s['info']} |", ""]
    for group, checks in _groups(report):
        if not checks:
            continue
        out += [f"## {GROUP_TITLES[group]}", "", "| Status | Check | Severity | Summary |", "|---|---|---|---|"]
        out += [f"| {md(c['status'])} | {md_code(c['id'])} {md(c['title'])} | {md(c['severity'])} | "
                f"{md(_ack_mark(c) + clean_text(c['summary'], 2000))} |" for c in checks]
        out.append("")
    out += _acknowledgements_markdown(report)
    out += ["## Details", ""]
    for c in report["checks"]:
        out += [f"### {md(c['title'])} ({md_code(c['id'])})", "",
                f"- **Status:** {md(c['status'])}; **severity:** {md(c['severity'])}; "
                f"**services:** {md(', '.join(c['services']))}",
                f"- **Summary:** {md(c['summary'])}"]
        evidence = _evidence_lines(c["evidence"])
        if evidence:
            out.append("- **Evidence:**")
            out += _evidence_markdown(evidence)
        remediation = _remediation(c["remediation"], md, _md_link)
        if remediation:
            out.append(f"- **Remediation:** {remediation}")
        src = c["source"]
        out.append(f"- **Source:** {_md_link(src['document'], src['url'])}, ms.date {md(src['ms_date'])}")
        if c["note"]:
            out.append(f"- **Note:** {md(c['note'])}")
        out.append("")
    return "\n".join(out)



def _acknowledgements_markdown(report: Mapping[str, Any]) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    return ["## Acknowledgements", "", *(f"- {md_code(i)}: {md(text)}" for i, text in rows), ""]



def _changes_markdown(report: Mapping[str, Any]) -> list[str]:
    if "changes" not in report:
        return []
    from dex_tui.drift import listed_changes

    out = [f"## {md(_changes_heading(report))}", "", f"{md(_changes_counts(report))}.", ""]
    rows = listed_changes(report["changes"])
    if rows:
        out += ["| Change | Check | Before | After |", "|---|---|---|---|"]
        out += [f"| {md(c['change'])} | {md_code(c['id'])} | {md(_change_status(c['before']))} | {md(c['after'])} |"
                for c in rows]
        out.append("")
    return out
