"""Acknowledgements that expire (``dex_tui.acknowledgements``): parsing the answers file's entries, the
state on both sides of the expiry date, blockers never acknowledged, the exit code, and the report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dex_tui import engine
from dex_tui.acknowledgements import Acknowledgement, counting, evaluate
from dex_tui.answers import Answers
from dex_tui.checks import result
from dex_tui.cli import run
from dex_tui.errors import UsageError
from dex_tui.results import Status

BASE = """\
service = "xdr"
[terms]
by = "a@contoso.com"
at = "2025-06-01T09:00:00Z"
[license]
by = "a@contoso.com"
at = "2025-06-01T09:00:00Z"
[roles]
security_reader = true
security_operator = true
security_administrator = true
"""


def av_ack(expires: str | None, reason: str = "Third-party AV until the migration in Q3.") -> str:
    line = f"expires = {expires}\n" if expires else ""
    return (f'[acknowledgements."devices.av_mode"]\nby = "a@contoso.com"\nat = "2025-06-01T09:00:00Z"\n'
            f"reason = {json.dumps(reason)}\n{line}")


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    original = engine.client_for
    monkeypatch.setattr(engine, "client_for", lambda runtime, **kw: original(runtime, sleep=lambda s: None, **kw))


def check(capsys: pytest.CaptureFixture[str], tmp_path: Path, scenario: str, answers: str,
          fmt: str = "json") -> tuple[int, Any, str]:
    path = tmp_path / "answers.toml"
    path.write_text(answers, encoding="utf-8")
    code = run(["--demo", scenario, "check", "--answers", str(path), "--format", fmt])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if fmt == "json" and out else out), err


# ------------------------------------------------------------------------------------ both sides of the date


@pytest.mark.parametrize(("expires", "state", "code"), [
    ("2025-06-03", "active", 0),     # the demo's day is 2025-06-02: acknowledged until tomorrow
    (None, "active", 0),             # no expiry
    ("2025-06-02", "expired", 1),    # from the expiry date it counts again
    ("2025-05-01", "expired", 1),
])
def test_an_acknowledged_warning_counts_again_from_its_expiry(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              expires: str | None, state: str, code: int) -> None:
    exit_code, report, _ = check(capsys, tmp_path, "passive-av", BASE + av_ack(expires))
    av = next(c for c in report["checks"] if c["id"] == "devices.av_mode")
    assert exit_code == code == report["exit_code"]
    assert av["status"] == "warn"  # the status is kept either way
    assert av["acknowledgement"]["state"] == state
    assert report["acknowledgements"][0]["acknowledgements"][0]["reason"].startswith("Third-party AV")
    assert report["summary"]["acknowledged"] == (1 if state == "active" else 0)
    _, text, _ = check(capsys, tmp_path, "passive-av", BASE + av_ack(expires), fmt="text")
    if state == "expired":
        assert f"[acknowledgement expired on {expires}]" in text and "it counts again" in text
    else:
        assert ("[acknowledged until 2025-06-03]" if expires else "[acknowledged]") in text
        assert "Ready: every required check passed or is acknowledged; 1 acknowledged check does not count" in text


def test_without_an_acknowledgement_the_warning_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, report, _ = check(capsys, tmp_path, "passive-av", BASE)
    assert code == 1 and "acknowledgements" not in report


def test_a_failed_blocker_is_never_acknowledged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    answers = BASE + ('[acknowledgements."devices.onboarded"]\nby = "a@contoso.com"\nat = "2025-06-01T09:00:00Z"\n'
                      'reason = "We will onboard later."\nexpires = 2026-01-01\n')
    code, report, _ = check(capsys, tmp_path, "no-devices", answers)
    onboarded = next(c for c in report["checks"] if c["id"] == "devices.onboarded")
    assert code == 2 and onboarded["status"] == "fail"
    assert onboarded["acknowledgement"]["state"] == "not_applied"
    assert "cannot be acknowledged" in onboarded["acknowledgement"]["why"]


def test_an_acknowledgement_of_a_passing_check_waives_nothing(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    code, report, _ = check(capsys, tmp_path, "ready", BASE + av_ack("2026-01-01"))
    assert code == 0
    assert report["acknowledgements"][0]["state"] == "not_needed"
    assert report["summary"]["acknowledged"] == 0


def test_a_skipped_role_acknowledged_with_a_reason_stops_counting(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    answers = BASE.replace("security_operator = true", "security_operator = false") + (
        '[acknowledgements.skip_security_operator]\nby = "a@contoso.com"\nat = "2025-06-01T09:00:00Z"\n'
        'reason = "Our SOC takes the response actions."\nexpires = 2025-12-31\n')
    code, report, _ = check(capsys, tmp_path, "ready", answers)
    roles = next(c for c in report["checks"] if c["id"] == "experts.roles")
    assert roles["status"] == "warn" and roles["acknowledgement"]["state"] == "active" and code == 0
    legacy = answers.replace('reason = "Our SOC takes the response actions."\nexpires = 2025-12-31\n', "")
    code, report, _ = check(capsys, tmp_path, "ready", legacy)  # acknowledged as before: it still warns
    assert code == 1 and "acknowledgements" not in report


def test_every_skipped_role_must_be_acknowledged_with_a_reason() -> None:
    answers = Answers(roles={"security_operator": False, "security_administrator": False})
    roles = result("experts.roles", "xdr", Status.WARN, "two roles skipped")
    entries = [Acknowledgement("skip_security_operator", "a", "2025-06-01T00:00:00Z", "why")]
    outcome = evaluate([roles], entries, date(2025, 6, 2), answers)[0]
    assert outcome.state == "not_applied" and "security administrator" in outcome.why
    assert counting([roles], [outcome]) == [roles]


def test_counting_leaves_out_only_the_active_ones() -> None:
    warn = result("devices.av_mode", "xdr", Status.WARN, "passive")
    unknown = result("experts.terms", "xdr", Status.UNKNOWN, "not recorded")
    entries = [Acknowledgement("devices.av_mode", "a", "2025-06-01T00:00:00Z", "why", date(2025, 7, 1)),
               Acknowledgement("experts.terms", "a", "2025-06-01T00:00:00Z", "why", date(2025, 6, 1))]
    outcomes = evaluate([warn, unknown], entries, date(2025, 6, 2))
    assert [o.state for o in outcomes] == ["active", "expired"]
    assert counting([warn, unknown], outcomes) == [unknown]


# ------------------------------------------------------------------------------------ the answers file


@pytest.mark.parametrize(("entry", "message"), [
    ({"nope.check": {"by": "a", "at": "2025-06-01T00:00:00Z", "reason": "x"}}, "neither a check id"),
    ({"devices.av_mode": {"by": "a", "at": "2025-06-01T00:00:00Z"}}, "needs a 'reason'"),
    ({"devices.av_mode": {"by": "a", "at": "2025-06-01T00:00:00Z", "reason": " "}}, "needs a 'reason'"),
    ({"devices.av_mode": {"by": "a", "at": "2025-06-01T00:00:00Z", "reason": "x", "expires": "soon"}},
     "'expires' must be a date"),
    ({"devices.av_mode": {"by": "a", "at": "2025-06-01T00:00:00Z", "reason": "x", "until": "2025-01-01"}},
     "unknown field 'until'"),
    ({"devices.av_mode": {"at": "2025-06-01T00:00:00Z", "reason": "x"}}, "needs 'by'"),
    ({"devices.av_mode": {"by": "a", "at": "yesterday", "reason": "x"}}, "not an ISO 8601"),
    ({"devices.av_mode": {"by": "a", "at": "2025-06-01T00:00:00Z", "reason": "x" * 501}}, "longer than 500"),
    ({"skip_security_operator": {"by": "a", "at": "2025-06-01T00:00:00Z", "expires": "2025-07-01"}},
     "'expires' needs a 'reason'"),
    ({"devices.av_mode": "yes"}, "must be a table"),
])
def test_a_bad_entry_is_a_clear_error(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Answers.from_dict({"acknowledgements": entry}, "answers file 'a.toml'")


def test_a_bad_entry_in_the_file_exits_4(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = check(capsys, tmp_path, "ready", BASE + av_ack('"someday"'))
    assert code == 4 and "'expires' must be a date" in err and "Traceback" not in err


def test_the_reason_is_neutralised_in_every_view(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    answers = BASE + av_ack("2025-07-01", reason="<script>alert(1)</script>\x1b[31m [x](https://evil.example)")
    _, text, _ = check(capsys, tmp_path, "passive-av", answers, fmt="text")
    assert "\x1b[31m" not in text
    _, page, _ = check(capsys, tmp_path, "passive-av", answers, fmt="html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    _, markdown, _ = check(capsys, tmp_path, "passive-av", answers, fmt="markdown")
    line = next(x for x in markdown.splitlines() if x.startswith("- `devices.av_mode`: acknowledged"))
    assert "<script>" not in line and "](https" not in line and "&lt;script&gt;" in line


def test_the_readme_answers_example_is_accepted(tmp_path: Path) -> None:
    from dex_tui.answers import load_answers

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Answers file", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "answers.toml"
    path.write_text(example, encoding="utf-8")
    answers = load_answers(path)
    entries = answers.waivers()
    assert answers.roles["security_administrator"] is False
    assert {e.key for e in entries} == {"skip_security_administrator", "devices.av_mode"}
    assert all(e.reason and e.expires for e in entries)
