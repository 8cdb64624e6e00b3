"""The readiness report: a JSON document (the source of truth, schema in the README) and the text,
Markdown and HTML views rendered from it; the verdict and the exit code; atomic, private writes.

Every tenant-supplied string is cleaned of escape sequences (``safety.clean_text``) and then escaped
for the surface: HTML with ``html.escape``, Markdown by backslash-escaping its punctuation. Links are
printed only when ``safety.is_allowed_link`` accepts them.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dex_tui import TOOL_NAME, __version__
from dex_tui.answers import Answers
from dex_tui.catalogue import ALL_CHECK_IDS
from dex_tui.checks import SERVICE_NAMES
from dex_tui.errors import ExitCode, UsageError
from dex_tui.facts import TenantFacts
from dex_tui.results import CheckResult, Group, Severity, Status
from dex_tui.safety import clean_text, is_allowed_link

SCHEMA_VERSION = 1
FORMATS = ("text", "json", "markdown", "html")
EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}
VERDICTS = {ExitCode.READY: "ready", ExitCode.WARNINGS: "warnings", ExitCode.BLOCKER: "blocked",
            ExitCode.CANNOT_EVALUATE: "cannot_evaluate"}
VERDICT_TEXT = {
    "ready": "Ready: every required check passed.",
    "warnings": "Ready with warnings: nothing blocks, but some checks need attention or a confirmation.",
    "blocked": "Not ready: at least one required check failed.",
    "cannot_evaluate": "Could not evaluate: a required check could not be read (sign-in, permission or network).",
}
STATUS_ORDER = ("pass", "warn", "fail", "unknown", "skipped", "info")
GROUP_TITLES = {"required": "Required", "coverage": "Coverage", "information": "Information"}


# ------------------------------------------------------------------------------------ verdict


def exit_code_for(results: Iterable[CheckResult]) -> ExitCode:
    """0 ready; 1 warnings only; 2 a blocker failed; 3 a blocker could not be evaluated.

    A blocker that failed outweighs one that could not be read (what is known to be wrong comes
    first). A warning, or a failed or unknown check of severity ``recommended``, gives 1. Checks of
    severity ``info`` never change the exit code; pass, info and skipped statuses give 0.
    """
    results = list(results)
    blockers = [r for r in results if r.severity is Severity.BLOCKER]
    if any(r.status is Status.FAIL for r in blockers):
        return ExitCode.BLOCKER
    if any(r.status is Status.UNKNOWN for r in blockers):
        return ExitCode.CANNOT_EVALUATE
    if any(r.status in (Status.WARN, Status.FAIL, Status.UNKNOWN) for r in results
           if r.severity is not Severity.INFO):
        return ExitCode.WARNINGS
    return ExitCode.READY


def verdict_for(results: Iterable[CheckResult]) -> str:
    return VERDICTS[exit_code_for(results)]


def summarize(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {status: sum(1 for r in results if r.status.value == status) for status in STATUS_ORDER}
    counts["total"] = len(results)
    counts["blockers_failed"] = sum(1 for r in results if r.severity is Severity.BLOCKER and r.status is Status.FAIL)
    counts["blockers_unknown"] = sum(1 for r in results
                                     if r.severity is Severity.BLOCKER and r.status is Status.UNKNOWN)
    return counts


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")



class SignedInIdentity(Protocol):
    """Who signed in, as the report reads it: a person (``auth.SignedIn``) or an application
    (``app_signin.AppSignedIn``)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def username(self) -> str: ...


def build_report(results: Sequence[CheckResult], facts: TenantFacts, answers: Answers, service: str | None = None,
                 *, demo: str | None = None, signed_in: SignedInIdentity | None = None, generated_at: str | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the README, "Report schema").

    ``signed_in`` (a ``dex_tui.auth.SignedIn``) fills the tenant id and operator when the Graph reads
    that name them failed.
    """
    service = service or answers.service
    org = facts.get("organization")
    me = facts.get("me")
    member_of = facts.get("member_of")
    cloud = facts.cloud
    tenant = {
        "id": (org.id if org else "") or ((signed_in.tenant_id if signed_in else "") or ""),
        "name": clean_text(org.display_name) if org else "",
        "default_domain": clean_text(org.default_domain) if org else "",
        "country": org.country_letter_code if org else None,
        "cloud": cloud.name,
        "cloud_label": cloud.label,
        "cloud_detected": cloud.detected,
        "cloud_note": clean_text(cloud.source, 400),
    }
    operator = {
        "display_name": clean_text(me.display_name if me else (signed_in.display_name if signed_in else "") or ""),
        "user_principal_name": clean_text(me.user_principal_name if me else (signed_in.username if signed_in else "") or ""),
        "roles": sorted(clean_text(r.display_name or r.template_id) for r in member_of.roles) if member_of else [],
    }
    checks = [r.to_dict() for r in sorted(results, key=lambda r: ALL_CHECK_IDS.index(r.id))]
    code = exit_code_for(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "generated_at": generated_at or _now(),
        "demo": demo,
        "tenant": tenant,
        "service": service,
        "service_name": SERVICE_NAMES[service],
        "operator": operator,
        "answers": answers.to_dict(),
        "verdict": VERDICTS[code],
        "verdict_text": VERDICT_TEXT[VERDICTS[code]],
        "exit_code": int(code),
        "summary": summarize(results),
        "checks": checks,
        "reads": [r.to_dict() for r in facts.reads.values()],
        "requests": facts.requests,
    }


# ------------------------------------------------------------------------------------ rendering


def render(report: Mapping[str, Any], fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """The report in ``fmt``; ``width`` (text only) wraps long lines for a terminal that wide."""
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "text":
        return render_text(report, color=color, width=width)
    raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}.")


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _groups(report: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(group.value, [c for c in report["checks"] if c["group"] == group.value]) for group in Group]


def _evidence_lines(evidence: Any, indent: str = "") -> list[tuple[str, str]]:
    """Flatten evidence into (label, value) pairs of plain text (escaping is the caller's job)."""
    pairs: list[tuple[str, str]] = []
    if not isinstance(evidence, dict):
        return [("", _plain(evidence))]
    for key, value in evidence.items():
        label = f"{indent}{key.replace('_', ' ')}"
        if isinstance(value, dict) and value:
            pairs.append((label, ""))
            pairs.extend(_evidence_lines(value, indent + "  "))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            pairs.append((label, ""))
            for item in value:
                pairs.append((indent + "  -", ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in item.items())))
        else:
            pairs.append((label, _plain(value)))
    return pairs


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return clean_text(value, 2000)


# -- text --

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


# -- "Changes since DATE" (drift against a previous report, dex_tui.drift), at the top of every view --


# -- acknowledgements that expire (dex_tui.acknowledgements): a mark on the check, and a section --


def _ack_mark(check: Mapping[str, Any]) -> str:
    ack = check.get("acknowledgement")
    if not isinstance(ack, dict):
        return ""
    if ack["state"] == "active":
        return f"[acknowledged until {clean_text(ack['expires'], 20)}] " if ack["expires"] else "[acknowledged] "
    if ack["state"] == "expired":
        return f"[acknowledgement expired on {clean_text(ack['expires'], 20)}] "
    return ""


def _ack_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(check id, plain text) per acknowledged check: its state, who, when and why."""
    rows = []
    for outcome in report.get("acknowledgements", []):
        head = {"active": f"acknowledged {outcome['why']}", "expired": f"{outcome['why']}: it counts again",
                "not_applied": f"not applied: {outcome['why']}",
                "not_needed": f"not needed: {outcome['why']}"}.get(outcome["state"], outcome["why"])
        who = "; ".join(f"by {a['by']} on {a['at']}: {a['reason']}" for a in outcome["acknowledgements"])
        rows.append((outcome["check_id"], clean_text(f"{head} ({who})", 2000)))
    return rows


def _acknowledgements_text(report: Mapping[str, Any], width: int | None) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    lines = ["Acknowledgements:"]
    for check_id, text in rows:
        lines += _wrapped(f"  {clean_text(check_id, 60)}: ", text, width)
    return [*lines, ""]


def _acknowledgements_markdown(report: Mapping[str, Any]) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    return ["## Acknowledgements", "", *(f"- {md_code(i)}: {md(text)}" for i, text in rows), ""]


def _acknowledgements_html(report: Mapping[str, Any]) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    return ['<h2 id="acknowledgements">Acknowledgements</h2>', "<ul>",
            *(f'<li data-check-id="{h(i)}"><code>{h(i)}</code>: {h(text)}</li>' for i, text in rows), "</ul>"]


_CHANGE_COLORS = {"regressed": "31", "fixed": "32", "new": "36"}


def _changes_heading(report: Mapping[str, Any]) -> str:
    return f"Changes since {clean_text(report['compared_with']['generated_at'], 40)}"


def _changes_counts(report: Mapping[str, Any]) -> str:
    counts = report["compared_with"]["counts"]
    return ", ".join(f"{int(counts.get(name, 0))} {name}" for name in ("regressed", "fixed", "new", "unchanged"))


def _change_status(value: Any) -> str:
    return clean_text(value, 20) if value else "not in the previous report"


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


def _changes_html(report: Mapping[str, Any]) -> list[str]:
    if "changes" not in report:
        return []
    from dex_tui.drift import listed_changes

    out = [f'<h2 id="changes">{h(_changes_heading(report))}</h2>', f"<p>{h(_changes_counts(report))}.</p>"]
    rows = listed_changes(report["changes"])
    if rows:
        out.append("<table><tr><th>Change</th><th>Check</th><th>Before</th><th>After</th></tr>")
        out += [f'<tr data-check-id="{h(c["id"])}" data-change="{h(c["change"])}"><td>{h(c["change"])}</td>'
                f'<td><a href="#{h(c["id"])}"><code>{h(c["id"])}</code></a></td>'
                f"<td>{h(_change_status(c['before']))}</td>"
                f'<td class="status {h(c["after"])}">{h(c["after"])}</td></tr>' for c in rows]
        out.append("</table>")
    return out


def _sentence(text: str) -> str:
    """``text`` ending as a sentence ends (a full stop added unless it has its own punctuation)."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?:" else text + "."


def _remediation(r: Mapping[str, str], escape: Callable[[Any], str], link: Callable[[str, str], str]) -> str:
    """What to do, where and the link, escaped for one format ('' when there is nothing to do), as
    sentences: "Buy it. Where: Billing > Licenses. <link>"."""
    parts = [escape(_sentence(clean_text(r["action"], 2000)))] if r["action"] else []
    if r["where"]:
        parts.append(f"Where: {escape(_sentence(clean_text(r['where'], 2000)))}")
    if r["link"]:
        parts.append(link(r["link"], r["link"]))
    return " ".join(parts)


# -- Markdown --

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


# -- HTML --

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1b1b1b;background:#fff;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}h3{font-size:1.05rem;margin:1.5rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}code{font-size:.9em}
.status{font-weight:600;text-transform:uppercase;font-size:.85em;white-space:nowrap}
.pass{color:#0a6b0a}.warn{color:#8a5a00}.fail{color:#b00020}.unknown{color:#6a1b9a}.skipped{color:#666}.info{color:#005a9e}
.verdict{padding:.6rem .8rem;border-left:.35rem solid #888;background:#f7f7f7}
.verdict.ready{border-color:#0a6b0a}.verdict.warnings{border-color:#8a5a00}.verdict.blocked{border-color:#b00020}
.verdict.cannot_evaluate{border-color:#6a1b9a}dl{margin:.2rem 0}dt{font-weight:600}dd{margin:0 0 .3rem 1rem}
@media (prefers-color-scheme:dark){body{background:#161616;color:#e6e6e6}th{background:#262626}
.verdict{background:#202020}td,th{border-color:#444}}
"""


def h(value: Any, limit: int = 2000) -> str:
    """A string as inert HTML text."""
    return html.escape(clean_text(value, limit), quote=True)


def _h_link(label: str, url: str) -> str:
    if not url or not is_allowed_link(url):
        return h(label)
    return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{h(label)}</a>'


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: inline CSS, no script, no external resource (a strict CSP says so)."""
    t, op, s = report["tenant"], report["operator"], report["summary"]
    title = f"{report['service_name']}: readiness of {t['name'] or t['id'] or 'the tenant'}"
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{h(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{h(title)}</h1>",
           f'<p class="verdict {h(report["verdict"])}" data-verdict="{h(report["verdict"])}">'
           f"<strong>{h(report['verdict'])}</strong> (exit code {int(report['exit_code'])}): {h(report['verdict_text'])}</p>",
           "<dl>",
           f"<dt>Tenant</dt><dd>{h(t['name']) or '-'} (<code>{h(t['id'])}</code>) {h(t['default_domain'])}</dd>",
           f"<dt>Cloud</dt><dd>{h(t['cloud_label'])}"
           + (" (detected from OpenID metadata: a hint)" if t["cloud_detected"] else "") + "</dd>",
           f"<dt>Service</dt><dd>{h(report['service_name'])}</dd>",
           f"<dt>Operator</dt><dd>{h(op['user_principal_name'] or op['display_name']) or '-'}; roles: {h(', '.join(op['roles'])) or 'none'}</dd>",
           f"<dt>Generated</dt><dd>{h(report['generated_at'])} by {h(report['tool']['name'])} "
           f"{h(report['tool']['version'])}" + (f" (demo scenario {h(report['demo'])})" if report.get("demo") else "")
           + "</dd>", "</dl>", *_changes_html(report),
           "<table><tr>" + "".join(f"<th>{name}</th>" for name in STATUS_ORDER) + "</tr><tr>"
           + "".join(f"<td>{int(s[name])}</td>" for name in STATUS_ORDER) + "</tr></table>"]
    for group, checks in _groups(report):
        if not checks:
            continue
        out += [f"<h2>{GROUP_TITLES[group]}</h2>",
                "<table><tr><th>Status</th><th>Check</th><th>Severity</th><th>Summary</th></tr>"]
        for c in checks:
            out.append(f'<tr data-check-id="{h(c["id"])}" data-status="{h(c["status"])}">'
                       f'<td class="status {h(c["status"])}">{h(c["status"])}</td>'
                       f'<td><a href="#{h(c["id"])}">{h(c["title"])}</a><br><code>{h(c["id"])}</code></td>'
                       f"<td>{h(c['severity'])}</td><td>{h(_ack_mark(c) + clean_text(c['summary'], 2000))}</td></tr>")
        out.append("</table>")
    out += _acknowledgements_html(report)
    out.append("<h2>Details</h2>")
    for c in report["checks"]:
        out += [f'<section id="{h(c["id"])}">', f"<h3>{h(c['title'])} <code>{h(c['id'])}</code></h3>",
                f'<p><span class="status {h(c["status"])}">{h(c["status"])}</span> · severity {h(c["severity"])} · '
                f"services {h(', '.join(c['services']))}</p>", f"<p>{h(c['summary'])}</p>"]
        evidence = _evidence_lines(c["evidence"])
        if evidence:
            out.append("<dl>")
            out += [f"<dt>{h(label.strip())}</dt><dd>{h(value)}</dd>" for label, value in evidence]
            out.append("</dl>")
        remediation = _remediation(c["remediation"], h, _h_link)
        if remediation:
            out.append(f"<p><strong>Remediation:</strong> {remediation}</p>")
        src = c["source"]
        out.append(f"<p><strong>Source:</strong> {_h_link(src['document'], src['url'])}, ms.date {h(src['ms_date'])}</p>")
        if c["note"]:
            out.append(f"<p><strong>Note:</strong> {h(c['note'])}</p>")
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ writing


_NOT_FILES = ("/dev/", "/proc/", "/sys/")


def check_output_path(path: Path, option: str = "--output") -> Path:
    """Where a report may go: a regular file, or a new one, in an existing folder this user can write.

    Returns the path to replace, symbolic links resolved (the link's target is replaced, never the link).
    A directory, a device, a pipe, a socket or anything under /dev or /proc is refused (``os.replace``
    would put a report file in place of ``/dev/null`` when run as root), and so is a read-only file.
    Raises UsageError naming ``option`` (an empty ``option``: the wizard's export, which has no
    options, so the message is a plain sentence); nothing is created.
    """
    def said(text: str) -> str:
        return f"{option}: {text}" if option else text[0].upper() + text[1:]

    given = Path(path).expanduser()
    real = Path(os.path.realpath(given))
    shown = repr(str(given))
    if real.is_dir():
        raise UsageError(said(f"{shown} is a directory; give a file name."))
    if str(given).startswith(_NOT_FILES) or str(real).startswith(_NOT_FILES) or (
            real.exists() and not real.is_file()):
        raise UsageError(said(f"{shown} is not a regular file (a device, pipe or system file); a report is "
                              "written only to a regular file."),
                         next_step=f"Use '{option} -' for standard output." if option
                         else "Choose a file name in a folder you can write to.")
    folder = real.parent
    if not folder.is_dir():
        raise UsageError(said(f"the folder {str(folder)!r} does not exist."),
                         next_step="Create it first, or choose another file.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(said(f"the folder {str(folder)!r} is not writable by you."),
                         next_step="Choose a file in a folder you can write to.")
    if real.exists() and not os.access(real, os.W_OK):
        raise UsageError(said(f"{shown} exists and is read-only."),
                         next_step="Choose another file, or make it writable first.")
    return real


def write_text_atomic(path: Path, text: str, option: str = "--output") -> Path:
    """Write ``text`` to ``path`` through a private temporary file and ``os.replace`` (mode 0600); the path
    is checked first (:func:`check_output_path`, whose errors name ``option``)."""
    path = check_output_path(path, option)
    directory = path.parent
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            os.chmod(temp, 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as exc:  # Ctrl+C included: never leave a copy of the report behind
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            cannot = f"cannot write {str(path)!r} ({exc.strerror})."
            raise UsageError(f"{option}: {cannot}" if option else cannot[0].upper() + cannot[1:],
                             next_step="Free some space or choose another file.") from exc
        raise
    return path


def write_report(report: Mapping[str, Any], path: Path, fmt: str | None = None, option: str = "--output") -> Path:
    """Render ``report`` in ``fmt`` (default: from the file extension, else JSON) and write it atomically
    (errors name ``option``; see :func:`check_output_path`)."""
    fmt = fmt or format_for_path(path)
    return write_text_atomic(path, render(report, fmt), option)


def format_for_path(path: Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"json": "json", "md": "markdown", "markdown": "markdown", "html": "html", "htm": "html",
            "txt": "text"}.get(suffix, "json")


def default_filename(report: Mapping[str, Any], fmt: str) -> str:
    """``dex-tui-report-<tenant>-<UTC time>.<ext>``, safe on every file system."""
    tenant = re.sub(r"[^A-Za-z0-9.-]+", "-", report["tenant"].get("default_domain") or report["tenant"]["id"]
                    or "tenant").strip("-") or "tenant"
    stamp = re.sub(r"[^0-9TZ]", "", report["generated_at"])
    return f"{TOOL_NAME}-report-{tenant}-{stamp}.{EXTENSIONS[fmt]}"
