"""The readiness report as one self-contained HTML page (no script, no external resource); imported only
when that format is asked for. Everything a tenant supplied goes through ``html.escape`` (:func:`h`)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from dex_tui.report import (
    GROUP_TITLES,
    STATUS_ORDER,
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



def _acknowledgements_html(report: Mapping[str, Any]) -> list[str]:
    rows = _ack_lines(report)
    if not rows:
        return []
    return ['<h2 id="acknowledgements">Acknowledgements</h2>', "<ul>",
            *(f'<li data-check-id="{h(i)}"><code>{h(i)}</code>: {h(text)}</li>' for i, text in rows), "</ul>"]



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
