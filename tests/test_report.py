"""The readiness report: exit-code mapping, schema, parity of the formats, escaping, private writes."""

from __future__ import annotations

import html
import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType

import pytest
from test_checks import CONFIRMED, EXPERTS, make_facts, names

from dex_tui.answers import Answers, Confirmation
from dex_tui.catalogue import CHECK_IDS
from dex_tui.checks import evaluate
from dex_tui.errors import ExitCode, UsageError
from dex_tui.facts import (
    AvModeCounts,
    CaPolicies,
    CaPolicy,
    Operator,
    Organization,
    ReadResult,
    TenantName,
)
from dex_tui.report import (
    build_report,
    default_filename,
    exit_code_for,
    format_for_path,
    render,
    verdict_for,
    write_report,
)
from dex_tui.report_html import render_html
from dex_tui.report_markdown import md, render_markdown
from dex_tui.report_text import render_text
from dex_tui.results import CheckResult, Severity, Status

HOSTILE = ("<script>alert(1)</script> **bold** [x](https://evil.example) | `tick` \x1b[31mred\x1b]8;;"
           "https://evil.example\x07 & www.evil.example _u_ #h")


def _result(status: Status, severity: Severity, check_id: str = "license.mde_p2") -> CheckResult:
    return CheckResult(check_id, "t", ("xdr",), severity, status, "s")


@pytest.mark.parametrize(("items", "code"), [
    ([], ExitCode.READY),
    ([(Status.PASS, Severity.BLOCKER), (Status.INFO, Severity.INFO), (Status.SKIPPED, Severity.BLOCKER)],
     ExitCode.READY),
    ([(Status.PASS, Severity.BLOCKER), (Status.WARN, Severity.RECOMMENDED)], ExitCode.WARNINGS),
    ([(Status.WARN, Severity.BLOCKER)], ExitCode.WARNINGS),
    ([(Status.UNKNOWN, Severity.RECOMMENDED)], ExitCode.WARNINGS),
    ([(Status.FAIL, Severity.RECOMMENDED)], ExitCode.WARNINGS),
    ([(Status.FAIL, Severity.INFO), (Status.UNKNOWN, Severity.INFO), (Status.WARN, Severity.INFO)], ExitCode.READY),
    ([(Status.UNKNOWN, Severity.BLOCKER), (Status.WARN, Severity.RECOMMENDED)], ExitCode.CANNOT_EVALUATE),
    ([(Status.FAIL, Severity.BLOCKER), (Status.UNKNOWN, Severity.BLOCKER)], ExitCode.BLOCKER),
    ([(Status.FAIL, Severity.BLOCKER), (Status.WARN, Severity.RECOMMENDED)], ExitCode.BLOCKER),
])
def test_exit_code_mapping(items, code) -> None:
    results = [_result(status, severity) for status, severity in items]
    assert exit_code_for(results) is code
    assert verdict_for(results) == {0: "ready", 1: "warnings", 2: "blocked", 3: "cannot_evaluate"}[int(code)]


def mixed_report() -> dict:
    facts = make_facts(
        organization=Organization("8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13", HOSTILE, "FR", "contoso.com", "AAD"),
        me=Operator("o", HOSTILE, "admin@contoso.com"),
        av_info=AvModeCounts(MappingProxyType({"active": 3, "passive": 1}), 4, 1),
        ca_policies=CaPolicies((CaPolicy("1", "Microsoft Security Experts-" + HOSTILE, "enabled", ()),), 1),
        tenant_information=names(**{EXPERTS: TenantName(EXPERTS, "Microsoft Experts " + HOSTILE, "", "")}),
        user_count=ReadResult("user_count", error="GET /users/$count was refused (403). " + HOSTILE, kind="http",
                              status=403, permission="User.ReadBasic.All"),
    )
    answers = Answers(confirmations={"terms": Confirmation(HOSTILE, "2025-06-02T09:10:00Z")},
                      roles={"security_operator": False, "security_administrator": None})
    results = evaluate(facts, answers)
    return build_report(results, facts, answers, demo="ready", generated_at="2025-06-02T10:00:00Z")


def test_report_schema() -> None:
    report = mixed_report()
    assert report["schema_version"] == 1
    assert report["tool"]["name"] == "dex-tui" and report["tool"]["version"]
    assert report["generated_at"] == "2025-06-02T10:00:00Z"
    assert report["tenant"]["id"] == "8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13" and report["tenant"]["cloud"] == "commercial"
    assert report["tenant"]["cloud_detected"] is False and report["tenant"]["country"] == "FR"
    assert report["service"] == "xdr" and report["operator"]["user_principal_name"] == "admin@contoso.com"
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["license.entra_p1"] == "unknown" and statuses["devices.av_mode"] == "warn"
    assert report["summary"]["total"] == 17 and report["summary"]["blockers_unknown"] == 1
    assert sum(report["summary"][s] for s in ("pass", "warn", "fail", "unknown", "skipped", "info")) == 17
    assert report["verdict"] == "cannot_evaluate" and report["exit_code"] == 3
    assert {r["name"] for r in report["reads"]} >= {"organization", "user_count"}
    assert json.loads(render(report, "json")) == report
    assert "\x1b" not in json.dumps(report) and "\x07" not in json.dumps(report)


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.scripts = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-check-id"):
            self.rows[values["data-check-id"] or ""] = values.get("data-status") or ""
        if tag == "script":
            self.scripts += 1
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")


def test_json_markdown_and_html_carry_the_same_checks_and_statuses() -> None:
    report = mixed_report()
    expected = {c["id"]: c["status"] for c in report["checks"]}
    parser = _Rows()
    parser.feed(render_html(report))
    assert parser.rows == expected
    table_rows = re.findall(r"^\| (\w+) \| `([a-z_.0-9]+)`", render_markdown(report), re.M)
    assert dict((cid, status) for status, cid in table_rows) == expected
    text = render_text(report)
    for check_id, status in expected.items():
        assert re.search(rf"{status.upper()}\s+{re.escape(check_id)}\b", text), check_id


def test_html_is_self_contained_and_escapes_every_tenant_string() -> None:
    page = render_html(mixed_report())
    parser = _Rows()
    parser.feed(page)
    assert parser.scripts == 0 and "<script>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert all(h.startswith(("https://learn.microsoft.com/", "https://admin.microsoft.com", "https://security.microsoft",
                             "https://entra.microsoft.com", "#")) for h in parser.hrefs), parser.hrefs
    assert "evil.example\"" not in page and 'href="https://evil' not in page
    assert "Content-Security-Policy" in page and "<link" not in page and "src=" not in page
    assert "\x1b" not in page and "\x07" not in page


def test_markdown_escapes_every_tenant_string() -> None:
    doc = render_markdown(mixed_report())
    assert "<script>" not in doc and "&lt;script&gt;" in doc
    assert "**bold**" not in doc and "\\*\\*bold\\*\\*" in doc
    assert "[x](https://evil.example)" not in doc and "](https://evil" not in doc
    assert "www.evil" not in doc and "https://evil" not in doc  # no autolink either
    assert "\x1b" not in doc and "\x07" not in doc
    for line in doc.splitlines():
        if line.startswith("| ") and "Microsoft Security Experts" in line:
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line  # the tenant's '|' cannot add a column


def test_md_helper() -> None:
    assert md("a_b*c") == "a\\_b\\*c"
    assert md("line1\nline2") == "line1 line2"
    assert md("x & <y>") == "x &amp; &lt;y&gt;"


def test_text_view_has_no_tenant_escape_sequences_and_colour_only_when_asked() -> None:
    report = mixed_report()
    plain = render_text(report)
    assert "\x1b" not in plain and "What to do:" in plain and "Verdict:" in plain
    coloured = render_text(report, color=True)
    assert "\x1b[33m" in coloured  # our own colour codes only
    assert "\x1b]8" not in coloured


def test_write_report_is_atomic_private_and_picks_the_format_from_the_extension(tmp_path: Path) -> None:
    report = mixed_report()
    for name, start in (("r.json", "{"), ("r.md", "# "), ("r.html", "<!DOCTYPE html>"), ("r.txt", "Defender")):
        path = write_report(report, tmp_path / name)
        assert path.read_text(encoding="utf-8").startswith(start)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    write_report(report, target)
    assert json.loads(target.read_text(encoding="utf-8"))["exit_code"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json", "r.md", "r.txt"]
    with pytest.raises(UsageError, match="does not exist"):
        write_report(report, tmp_path / "missing" / "r.json")
    assert format_for_path(Path("x.HTM")) == "html" and format_for_path(Path("x")) == "json"


def test_default_filename_is_safe() -> None:
    report = mixed_report()
    report["tenant"]["default_domain"] = "../../etc/contoso.com"
    name = default_filename(report, "html")
    assert "/" not in name and name.endswith(".html") and name.startswith("dex-tui-report-")


def test_render_rejects_an_unknown_format() -> None:
    with pytest.raises(UsageError):
        render(mixed_report(), "pdf")


def test_signed_in_fills_in_when_graph_reads_failed() -> None:
    class Signed:
        tenant_id = "tid-from-token"
        username = "op@contoso.com"
        display_name = "Op"

    facts = make_facts(organization=ReadResult("organization", error="x", kind="network"),
                       me=ReadResult("me", error="x", kind="network"))
    report = build_report(evaluate(facts, CONFIRMED), facts, CONFIRMED, signed_in=Signed())
    assert report["tenant"]["id"] == "tid-from-token" and report["operator"]["user_principal_name"] == "op@contoso.com"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_text_view_wraps_to_the_terminal_width_under_its_own_column(width: int) -> None:
    report = mixed_report()
    unwrapped = render_text(report)
    for color in (False, True):
        text = render_text(report, color=color, width=width)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        # Links stay whole so that terminals can still open them.
        assert all(len(line) <= width for line in plain.splitlines() if "link:" not in line), width
        assert " ".join(plain.split()) == " ".join(unwrapped.split())  # same words, only the breaks differ
    for check in report["checks"]:
        row = next(line for line in plain.splitlines() if re.search(rf"\b{re.escape(check['id'])}\b", line))
        assert row.startswith("  " + check["status"].upper())


def test_markdown_evidence_keeps_its_nesting_and_remediation_reads_as_sentences() -> None:
    report = mixed_report()
    doc = render_markdown(report)
    lines = doc.splitlines()
    nested = [i for i, line in enumerate(lines) if re.match(r"^  - [^:]+:$", line)]
    assert nested, "some evidence holds a table or a list of tables"
    for i in nested:  # an entry that holds others is followed by its entries, one level deeper
        assert lines[i + 1].startswith("    - "), lines[i:i + 2]
    assert ".; where:" not in doc and "; where:" not in doc
    remedies = [line for line in lines if line.startswith("- **Remediation:**") and "Where:" in line]
    assert remedies and all(re.search(r"[.!?:] Where: ", line) for line in remedies), remedies
