"""Drift between runs (``dex_tui.drift``, ``dex-tui check --compare``): every class of change, the
previous report read as a hostile file, refusals of another tenant, service or schema version, the
"Changes since DATE" section in every view, and ``--fail-on-regression``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dex_tui import engine, report, report_html, report_markdown, report_text
from dex_tui.cli import run
from dex_tui.drift import (
    MAX_PREVIOUS_BYTES,
    Change,
    DriftRefused,
    PreviousReportError,
    attach,
    classify,
    compare,
    exit_code_with_regressions,
    load_previous,
    parse_previous,
    parse_previous_bytes,
)
from dex_tui.report import render

TENANT = "8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13"  # the shipped demo scenarios' tenant


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    original = engine.client_for
    monkeypatch.setattr(engine, "client_for", lambda runtime, **kw: original(runtime, sleep=lambda s: None, **kw))


def _report(statuses: dict[str, str], *, tenant: str = TENANT, service: str = "xdr",
            generated_at: str = "2025-06-01T08:00:00Z", version: int = 1) -> dict[str, Any]:
    return {"schema_version": version, "generated_at": generated_at, "tenant": {"id": tenant}, "service": service,
            "checks": [{"id": i, "status": s} for i, s in statuses.items()]}


# ------------------------------------------------------------------------------------ the classes


@pytest.mark.parametrize(("before", "after", "expected"), [
    (None, "pass", Change.NEW),
    (None, "unknown", Change.NEW),
    ("pass", "pass", Change.UNCHANGED),
    ("warn", "warn", Change.UNCHANGED),
    ("unknown", "unknown", Change.UNCHANGED),
    ("pass", "warn", Change.REGRESSED),
    ("pass", "fail", Change.REGRESSED),
    ("warn", "fail", Change.REGRESSED),
    ("pass", "unknown", Change.REGRESSED),
    ("fail", "unknown", Change.REGRESSED),
    ("skipped", "unknown", Change.REGRESSED),
    ("info", "unknown", Change.REGRESSED),
    ("skipped", "warn", Change.REGRESSED),
    ("warn", "pass", Change.FIXED),
    ("fail", "pass", Change.FIXED),
    ("fail", "warn", Change.FIXED),
    ("unknown", "pass", Change.FIXED),
    ("unknown", "fail", Change.FIXED),
    ("warn", "skipped", Change.FIXED),
    ("pass", "skipped", Change.UNCHANGED),
    ("info", "pass", Change.UNCHANGED),
])
def test_every_class_of_change(before: str | None, after: str, expected: Change) -> None:
    assert classify(before, after) is expected


def test_compare_classes_each_check_of_the_report_and_attach_marks_them() -> None:
    previous = parse_previous(_report({"a.one": "pass", "a.two": "fail", "a.three": "warn", "gone.check": "pass"}))
    current = _report({"a.one": "warn", "a.two": "pass", "a.three": "warn", "a.four": "fail"},
                      generated_at="2025-06-02T08:00:00Z")
    drift = compare(current, previous)
    assert [(c.id, c.change.value, c.before, c.after) for c in drift.changes] == [
        ("a.one", "regressed", "pass", "warn"), ("a.two", "fixed", "fail", "pass"),
        ("a.three", "unchanged", "warn", "warn"), ("a.four", "new", None, "fail")]
    assert drift.regressed and drift.since == "2025-06-01T08:00:00Z"
    marked = attach(current, drift)
    assert marked["changes"][0] == {"id": "a.one", "change": "regressed", "before": "pass", "after": "warn"}
    assert marked["compared_with"] == {"generated_at": "2025-06-01T08:00:00Z", "regressed": True,
                                       "counts": {"new": 1, "fixed": 1, "regressed": 1, "unchanged": 1}}
    assert marked["checks"][0]["previous"] == {"status": "pass", "generated_at": "2025-06-01T08:00:00Z"}
    assert marked["checks"][3]["change"] == "new" and marked["checks"][3]["previous"]["status"] is None
    assert "changes" not in current  # attach copies


def test_no_regression_keeps_the_verdict_and_a_regression_makes_it_2() -> None:
    previous = parse_previous(_report({"a.one": "pass"}))
    same = compare(_report({"a.one": "pass"}), previous)
    worse = compare(_report({"a.one": "warn"}), previous)
    assert not same.regressed
    assert [exit_code_with_regressions(v, same) for v in (0, 1, 2, 3)] == [0, 1, 2, 3]
    assert [exit_code_with_regressions(v, worse) for v in (0, 1, 2, 3)] == [2, 2, 2, 3]


def test_the_drift_schema_version_is_the_reports() -> None:
    from dex_tui import drift

    assert drift.SCHEMA_VERSION == report.SCHEMA_VERSION


# ------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(("previous", "message"), [
    (_report({"a.one": "pass"}, tenant="11111111-2222-3333-4444-555555555555"), "another tenant"),
    (_report({"a.one": "pass"}, service="hunting"), "Defender Experts for Hunting"),
    (_report({"a.one": "pass"}, tenant=""), "not known"),
])
def test_another_tenant_or_service_is_refused(previous: dict[str, Any], message: str) -> None:
    with pytest.raises(DriftRefused, match=message) as caught:
        compare(_report({"a.one": "pass"}), parse_previous(previous))
    assert caught.value.exit_code == 4


def test_another_schema_version_is_refused() -> None:
    with pytest.raises(DriftRefused, match="schema version 2"):
        parse_previous(_report({"a.one": "pass"}, version=2))


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"# Markdown report", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not valid JSON"),
    (b"[]", "JSON array, not an object"),
    (b'"text"', "JSON string"),
    (b"{}", "no schema_version"),
    (b'{"schema_version": true}', "no schema_version"),
    (json.dumps({**_report({}), "tenant": "x"}).encode(), "no tenant.id"),
    (json.dumps({**_report({}), "service": "other"}).encode(), "service is not xdr or hunting"),
    (json.dumps({**_report({}), "generated_at": "yesterday <b>"}).encode(), "generated_at"),
    (json.dumps({**_report({}), "checks": {}}).encode(), "no checks list"),
    (json.dumps({**_report({}), "checks": [1]}).encode(), "check 1 is not an object"),
    (json.dumps({**_report({}), "checks": [{"id": "<script>", "status": "pass"}]}).encode(), "no valid id"),
    (json.dumps({**_report({}), "checks": [{"id": "a.one", "status": "great"}]}).encode(), "status 'great'"),
    (json.dumps(_report({})).replace('"checks": []', '"checks": [{"id": "a.b", "status": "pass"}, '
                                     '{"id": "a.b", "status": "fail"}]').encode(), "listed twice"),
    (json.dumps({**_report({}), "checks": [{"id": f"a.c{i}", "status": "pass"} for i in range(501)]}).encode(),
     "more than any report"),
])
def test_a_wrong_shape_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(PreviousReportError, match=message) as caught:
        parse_previous_bytes(data, source="--compare 'x.json'")
    assert caught.value.exit_code == 4
    assert "\n" not in caught.value.one_line()


def test_the_file_is_size_capped_and_must_be_a_regular_file(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as out:
        out.truncate(MAX_PREVIOUS_BYTES + 1)
    with pytest.raises(PreviousReportError, match="larger than"):
        load_previous(big)
    with pytest.raises(PreviousReportError, match="directory"):
        load_previous(tmp_path)
    with pytest.raises(PreviousReportError, match="does not exist"):
        load_previous(tmp_path / "none.json")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PreviousReportError, match="not a regular file"):
        load_previous(fifo)  # opened without blocking, refused before any read
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_report({"a.one": "pass"})), encoding="utf-8")
    assert load_previous(good).statuses == {"a.one": "pass"}


# ------------------------------------------------------------------------------------ rendering


def _demo_report(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    code = run(["--demo", "check", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _previous_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, **statuses: str) -> Path:
    code = run(["--demo", "check", "--format", "json"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    data["generated_at"] = "2025-05-01T08:00:00Z"
    for check in data["checks"]:
        check["status"] = statuses.get(check["id"].replace(".", "_"), check["status"])
    data["checks"] = [c for c in data["checks"] if c["id"] != "coverage.iot"]
    path = tmp_path / "previous.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert code == 1
    return path


def test_check_compare_end_to_end_in_every_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    previous = _previous_file(capsys, tmp_path, license_mdo_p2="fail", experts_terms="pass")
    code, out, _ = _demo_report(capsys, tmp_path, "--compare", str(previous), "--format", "json")
    data = json.loads(out)
    assert code == 1  # the exit code stays the verdict without --fail-on-regression
    changes = {c["id"]: c["change"] for c in data["changes"]}
    assert changes["experts.terms"] == "regressed" and changes["license.mdo_p2"] == "fixed"
    assert changes["coverage.iot"] == "new" and changes["cloud.availability"] == "unchanged"
    assert len(data["changes"]) == len(data["checks"])

    code, text, _ = _demo_report(capsys, tmp_path, "--compare", str(previous), "--format", "text")
    head = text.split("Required:")[0]
    assert "Changes since 2025-05-01T08:00:00Z: 1 regressed, 1 fixed, 1 new, 14 unchanged." in head
    assert "REGRESSED  experts.terms" in head and "pass -> unknown" in head
    assert "not in the previous report -> info" in head

    _, markdown, _ = _demo_report(capsys, tmp_path, "--compare", str(previous), "--format", "markdown")
    assert markdown.index("## Changes since 2025-05-01T08:00:00Z") < markdown.index("## Required")
    assert "| regressed | `experts.terms` | pass | unknown |" in markdown

    _, page, _ = _demo_report(capsys, tmp_path, "--compare", str(previous), "--format", "html")
    assert page.index('<h2 id="changes">Changes since 2025-05-01T08:00:00Z</h2>') < page.index("<h2>Required</h2>")
    assert 'data-check-id="experts.terms" data-change="regressed"' in page


def test_the_section_is_neutralised_like_every_tenant_string() -> None:
    hostile = {"id": "a.<b>x</b>\x1b[31m[link](https://evil.example)", "change": "regressed", "before": "pass",
               "after": "warn"}
    data = {"compared_with": {"generated_at": "2025-05-01T08:00:00Z\x1b]0;owned\x07<i>",
                              "counts": {"regressed": 1}}, "changes": [hostile]}
    text = "\n".join(report_text._changes_text(data, False, None))
    assert "\x1b" not in text and "\x07" not in text
    page = "\n".join(report_html._changes_html(data))
    assert "<b>" not in page and "<i>" not in page and "&lt;b&gt;" in page
    markdown = "\n".join(report_markdown._changes_markdown(data))
    assert "\x1b" not in markdown and "<i>" not in markdown
    assert "| `a.<b>x</b>" in markdown  # a code span: literal text in Markdown, as every check id is shown


def test_without_compare_there_is_no_section(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, out, _ = _demo_report(capsys, tmp_path, "--format", "json")
    data = json.loads(out)
    assert "changes" not in data and "compared_with" not in data
    for fmt in ("text", "markdown", "html"):
        assert "Changes since" not in render(data, fmt)


def test_fail_on_regression_exits_2_and_says_why(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    previous = _previous_file(capsys, tmp_path, experts_terms="pass")
    code, _, err = _demo_report(capsys, tmp_path, "--compare", str(previous), "--fail-on-regression",
                                "--format", "json")
    assert code == 2
    assert "Regressed since 2025-05-01T08:00:00Z: 1 check(s) (--fail-on-regression: exit code 2)." in err
    same = _previous_file(capsys, tmp_path)
    code, _, err = _demo_report(capsys, tmp_path, "--compare", str(same), "--fail-on-regression", "--format", "json")
    assert code == 1 and "Regressed" not in err


@pytest.mark.parametrize(("change", "message"), [
    ({"tenant": {"id": "11111111-2222-3333-4444-555555555555"}}, "another tenant"),
    ({"service": "hunting"}, "service 'hunting'"),
    ({"schema_version": 7}, "schema version 7"),
    ({"checks": "none"}, "no checks list"),
])
def test_check_refuses_a_previous_report_it_cannot_compare(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                           change: dict[str, Any], message: str) -> None:
    path = _previous_file(capsys, tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(change)
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = _demo_report(capsys, tmp_path, "--compare", str(path), "--format", "json")
    assert code == 4 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("dex-tui: Cannot compare: ") and message in last and "Traceback" not in err
    assert "[ 1/17]" not in err  # refused before the tenant is read (another tenant: right after sign-in)


def test_fail_on_regression_needs_compare(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _demo_report(capsys, tmp_path, "--fail-on-regression")
    assert code == 4 and "needs --compare" in err


def test_a_bad_previous_file_is_refused_before_sign_in(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "previous.md"
    path.write_text("# a Markdown report\n", encoding="utf-8")
    code, _, err = _demo_report(capsys, tmp_path, "--compare", str(path))
    assert code == 4 and "not valid JSON" in err and "To sign in" not in err


def test_the_documented_rules_hold_for_every_pair_of_statuses() -> None:
    statuses = ["pass", "warn", "fail", "unknown", "skipped", "info"]
    for before in statuses:
        for after in statuses:
            change = classify(before, after)
            if before == after:
                assert change is Change.UNCHANGED
            elif after == "unknown" or (before, after) in {("pass", "warn"), ("pass", "fail"), ("warn", "fail")}:
                assert change is Change.REGRESSED, (before, after)
            elif before == "unknown" or (after, before) in {("pass", "warn"), ("pass", "fail"), ("warn", "fail")}:
                assert change is Change.FIXED, (before, after)
            # a regression's reverse is never a regression, and the other way round
            assert {change, classify(after, before)} != {Change.REGRESSED} or before == after


def test_latest_previous_picks_the_newest_report_of_the_tenant(tmp_path: Path) -> None:
    from dex_tui.drift import latest_previous

    files = []
    for name, data in {
        "old.json": _report({"a.one": "fail"}, generated_at="2025-05-01T08:00:00Z"),
        "new.json": _report({"a.one": "warn"}, generated_at="2025-05-20T08:00:00Z"),
        "other-tenant.json": _report({"a.one": "pass"}, tenant="11111111-2222-3333-4444-555555555555",
                                     generated_at="2025-05-30T08:00:00Z"),
        "hunting.json": _report({"a.one": "pass"}, service="hunting", generated_at="2025-05-30T08:00:00Z"),
        "future.json": _report({"a.one": "pass"}, generated_at="2025-07-01T08:00:00Z"),
    }.items():
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
        files.append(tmp_path / name)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    files += [tmp_path / "broken.json", tmp_path / "missing.json"]
    found = latest_previous(files, TENANT.upper(), "xdr", before="2025-06-02T09:00:00Z")
    assert found is not None and found.generated_at == "2025-05-20T08:00:00Z"
    assert found.statuses == {"a.one": "warn"}
    newest = latest_previous(files, TENANT, "xdr")
    assert newest is not None and newest.generated_at == "2025-07-01T08:00:00Z"
    assert latest_previous(files, "", "xdr") is None
    assert latest_previous(files[:1], TENANT, "hunting") is None
