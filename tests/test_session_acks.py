"""Acknowledgements and drift in the wizard's session, headless: acknowledging a warning with why and
until when (saved, audited, counted out of the verdict until it expires), what is refused with nothing
changed, reasoned role skips, the kept runs and "Changes since", and the answers file's dates and
``by`` (issue 14, item 13)."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from dex_tui.acknowledgements import AcknowledgementRefused, parse_expiry
from dex_tui.answers import Answers, load_answers
from dex_tui.cli import run
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls
from dex_tui.errors import UsageError
from dex_tui.report import render
from dex_tui.results import Status
from dex_tui.runs import KEEP, RunStore
from dex_tui.session import WizardSession
from dex_tui.settings import Settings

NOW = "2026-11-24T10:00:00Z"
LATER = "2027-02-01T10:00:00Z"


def session_on(state_dir: Path, scenario: str = "passive-av", *, demo: str | None = None,
               now: str = NOW) -> WizardSession:
    """A signed-in session on ``scenario``'s fake tenant whose progress is kept as demo ``demo``'s."""
    controls = DemoControls(FakeCloud(load_scenario(scenario), sleep=lambda seconds: None))
    session = WizardSession(Settings(demo=demo or scenario, state_dir=state_dir), demo=controls,
                            now_iso=lambda: now)
    session.goto("signin")
    auth = session.runtime.authenticator()
    session.signed_in(auth.sign_in_with_device_code(lambda prompt: controls.approve_device_code()))
    return session


def events(session: WizardSession) -> list[dict[str, object]]:
    return session.audit.read()


def grant_all(session: WizardSession) -> None:
    session.confirm("terms")
    session.confirm("license")
    session.decide_role("security_operator", True)
    session.decide_role("security_administrator", True)


# ------------------------------------------------------------------------------------ acknowledging a check


def test_an_acknowledged_warning_is_saved_audited_and_leaves_the_verdict(tmp_path: Path) -> None:
    session = session_on(tmp_path)
    session.run_checks()
    grant_all(session)
    session.perform_demo("access")
    session.run_checks()
    assert session.results["devices.av_mode"].status is Status.WARN
    assert session.readiness_exit_code() == 1
    session.acknowledge("devices.av_mode", "  Third-party AV until the migration  ", date(2027, 1, 31))
    assert session.readiness_exit_code() == 0
    ack = session.state.answers.acknowledgements["devices.av_mode"]
    assert (ack.by, ack.at, ack.reason, ack.expires) == ("admin@contoso.onmicrosoft.com", NOW,
                                                         "Third-party AV until the migration", date(2027, 1, 31))
    record = events(session)[-1]
    assert record["event"] == "check_acknowledged" and record["check"] == "devices.av_mode"
    assert record["reason"] == "Third-party AV until the migration" and record["expires"] == "2027-01-31"
    report = session.build_report()
    av = next(c for c in report["checks"] if c["id"] == "devices.av_mode")
    assert av["status"] == "warn" and av["acknowledgement"]["state"] == "active"
    assert report["verdict"] == "ready" and report["summary"]["acknowledged"] == 1
    assert "[acknowledged until 2027-01-31]" in render(report, "text")
    session.close()
    # kept in the progress file and read back by the next session
    again = session_on(tmp_path)
    assert again.state.answers.acknowledgements["devices.av_mode"] == ack
    again.close()


def test_from_its_expiry_date_the_warning_counts_again(tmp_path: Path) -> None:
    session = session_on(tmp_path)
    session.run_checks()
    session.acknowledge("devices.av_mode", "Migration", date(2027, 1, 31))
    session.close()
    later = session_on(tmp_path, now=LATER)  # the next session, after the expiry
    later.run_checks()
    outcome = next(o for o in later.acknowledgement_outcomes() if o.check_id == "devices.av_mode")
    assert outcome.state == "expired"
    report = later.build_report()
    assert "acknowledgement expired on 2027-01-31" in render(report, "text")
    assert later.readiness_exit_code() >= 1
    later.close()


def test_withdrawing_an_acknowledgement_is_audited(tmp_path: Path) -> None:
    session = session_on(tmp_path)
    session.run_checks()
    session.acknowledge("devices.av_mode", "Migration")
    session.withdraw_acknowledgement("devices.av_mode")
    assert "devices.av_mode" not in session.state.answers.acknowledgements
    assert [e["event"] for e in events(session)][-2:] == ["check_acknowledged", "acknowledgement_withdrawn"]
    session.close()


@pytest.mark.parametrize(("scenario", "check_id", "reason", "expires", "message"), [
    ("missing-entra-p1", "license.entra_p1", "Later", None, "blockers cannot be acknowledged"),
    ("passive-av", "cloud.availability", "Fine", None, "nothing needs acknowledging"),
    ("passive-av", "experts.roles", "Fine", None, "acknowledged where it is skipped"),
    ("passive-av", "devices.av_mode", "   ", None, "needs a reason"),
    ("passive-av", "devices.av_mode", "x" * 501, None, "longer than 500"),
    ("passive-av", "devices.av_mode", "Migration", date(2026, 11, 24), "not after today"),
    ("passive-av", "devices.av_mode", "Migration", date(2025, 1, 1), "not after today"),
])
def test_what_cannot_be_acknowledged_changes_nothing(tmp_path: Path, scenario: str, check_id: str, reason: str,
                                                     expires: date | None, message: str) -> None:
    session = session_on(tmp_path, scenario)
    session.run_checks()
    before, trail = session.state.answers, events(session)
    with pytest.raises(AcknowledgementRefused, match=message):
        session.acknowledge(check_id, reason, expires)
    assert session.state.answers == before and events(session) == trail
    session.close()


def test_the_dialog_expiry_must_be_a_real_date_after_today() -> None:
    today = date(2026, 11, 24)
    assert parse_expiry("", today) is None
    assert parse_expiry(" 2026-11-25 ", today) == date(2026, 11, 25)
    for typed, message in (("2026-02-30", "not a date"), ("31/12/2026", "not a date"), ("2026-1-5", "not a date"),
                           ("tomorrow", "not a date"), ("2026-11-24", "not after today"),
                           ("2026-11-01", "not after today")):
        with pytest.raises(AcknowledgementRefused, match=message):
            parse_expiry(typed, today)


def test_a_role_skipped_with_a_reason_and_expiry_is_acknowledged_until_then(tmp_path: Path) -> None:
    session = session_on(tmp_path, "ready")
    session.run_checks()
    session.confirm("terms")
    session.confirm("license")
    session.decide_role("security_operator", True)
    session.decide_role("security_administrator", False, reason="Our SOC configures settings",
                        expires=date(2027, 1, 31))
    session.perform_demo("access")
    session.run_checks()
    assert session.results["experts.roles"].status is Status.WARN
    assert session.readiness_exit_code() == 0  # acknowledged with a reason: it does not count
    skipped = events(session)[-1]
    assert skipped["event"] == "role_skipped" and skipped["reason"] == "Our SOC configures settings"
    assert skipped["expires"] == "2027-01-31"
    with pytest.raises(AcknowledgementRefused, match="not after today"):
        session.decide_role("security_operator", False, reason="x", expires=date(2026, 1, 1))
    assert session.state.answers.roles["security_operator"] is True  # nothing changed
    session.decide_role("security_administrator", True)  # granting takes the acknowledgement back
    assert "skip_security_administrator" not in session.state.answers.acknowledgements
    session.close()


# ------------------------------------------------------------------------------------ kept runs, "Changes since"


def test_the_next_session_shows_the_changes_since_the_kept_run(tmp_path: Path) -> None:
    first = session_on(tmp_path, "passive-av", demo="ready")  # the same tenant, passive antivirus then
    first.run_checks()
    assert first.changes_since() is None  # nothing kept before this session
    kept = list((tmp_path / "runs" / "demo-ready").iterdir())
    assert len(kept) == 1
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "runs" / "demo-ready").stat().st_mode) == 0o700
    first.run_checks()
    assert len(list((tmp_path / "runs" / "demo-ready").iterdir())) == 1  # one file per session
    first.close()
    second = session_on(tmp_path, "ready", demo="ready")
    second.run_checks()
    drift = second.changes_since()
    assert drift is not None and drift.since == NOW
    av = next(c for c in drift.changes if c.id == "devices.av_mode")
    assert (av.change.value, av.before, av.after) == ("fixed", "warn", "pass")
    report = second.build_report()
    assert report["compared_with"]["counts"]["fixed"] >= 1
    assert f"Changes since {NOW}" in render(report, "text")
    second.close()


def test_kept_runs_are_bounded_and_hostile_files_are_passed_over(tmp_path: Path) -> None:
    session = session_on(tmp_path, "ready")
    session.run_checks()
    report = session.build_report(compared=False)
    session.close()
    folder = tmp_path / "runs" / "demo-ready"
    for _ in range(KEEP + 3):
        RunStore(tmp_path, "demo-ready").save(report)
    assert len(list(folder.iterdir())) == KEEP
    newest = sorted(folder.iterdir())[-1]
    newest.write_text("not json")  # damaged: passed over, the next one is used
    (folder / "20990101T000000000000Z-1-xdr.json").symlink_to(newest)  # a link: refused
    found = RunStore(tmp_path, "demo-ready").previous(report["tenant"]["id"], "xdr")
    assert found is not None and found.generated_at == NOW
    assert RunStore(tmp_path, "demo-ready").previous("another-tenant", "xdr") is None


# ------------------------------------------------------------------------------------ the answers file (14.13)


BASE = """\
service = "xdr"
[terms]
by = "a@contoso.com"
at = "2025-06-01T09:00:00Z"
[roles]
security_reader = true
security_operator = {operator}
"""


def answers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_date_in_the_future_is_refused_with_its_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = answers_file(tmp_path, BASE.format(operator="true").replace("2025-06-01T09:00:00Z", "2999-01-01T00:00:00Z"))
    with pytest.raises(UsageError, match=r"line 4: terms.at = 2999-01-01T00:00:00Z is in the future"):
        load_answers(path)
    code = run(["--demo", "ready", "check", "--answers", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 4 and out == "" and "terms.at" in err and "Traceback" not in err
    ack = ('[acknowledgements."devices.av_mode"]\nby = "a"\nat = 2999-01-01T00:00:00Z\nreason = "x"\n')
    with pytest.raises(UsageError, match=r'acknowledgements."devices.av_mode".at = 2999-01-01T00:00:00Z is in the '
                                         "future"):
        load_answers(answers_file(tmp_path, BASE.format(operator="true") + ack))


def test_an_acknowledgement_of_a_granted_role_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE.format(operator="true") + ('[acknowledgements.skip_security_operator]\nby = "a"\n'
                                           'at = "2025-06-01T09:00:00Z"\n')
    path = answers_file(tmp_path, text)
    with pytest.raises(UsageError, match="acknowledgements.skip_security_operator acknowledges skipping Security "
                                         "operator, but roles.security_operator = true grants it"):
        load_answers(path)
    assert run(["--demo", "ready", "check", "--answers", str(path)]) == 4
    assert "roles.security_operator = true" in capsys.readouterr().err
    assert load_answers(answers_file(tmp_path, text.replace("security_operator = true", "security_operator = false")))


def test_offsets_become_utc_and_by_is_cleaned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE.format(operator="false").replace('by = "a@contoso.com"\nat = "2025-06-01T09:00:00Z"',
                                                 'by = "evil\\u001b[2J\\u202eadmin"\nat = "2025-06-01T11:00:00+02:00"')
    text += ('[acknowledgements.skip_security_operator]\nby = "x\\u001b]0;owned\\u0007y"\n'
             'at = 2025-06-01T04:00:00-05:00\nreason = "Ours\\u001b[31m"\n')
    path = answers_file(tmp_path, text)
    answers = load_answers(path)
    assert answers.terms is not None and answers.terms.at == "2025-06-01T09:00:00Z"
    assert "\x1b" not in answers.terms.by and "\u202e" not in answers.terms.by and "⟨U+202E⟩" in answers.terms.by
    ack = answers.acknowledgements["skip_security_operator"]
    assert ack.at == "2025-06-01T09:00:00Z" and "\x1b" not in ack.by + ack.reason
    assert run(["--demo", "ready", "check", "--answers", str(path), "--format", "json"]) == 1
    raw = capsys.readouterr().out
    assert "\\u001b" not in raw and "\\u202e" not in raw  # nothing raw in the JSON report either
    report = json.loads(raw)
    assert report["answers"]["terms"]["at"] == "2025-06-01T09:00:00Z"
    # the wizard writes the same file back: read again, it is the same
    again = answers_file(tmp_path, answers.to_toml())
    assert load_answers(again) == answers


def test_the_wizard_cleans_who_acknowledged_too(tmp_path: Path) -> None:
    session = session_on(tmp_path)
    assert session.signed is not None
    session.signed = replace(session.signed, username="admin\x1b[2J\u202e@contoso.com")
    session.run_checks()
    session.acknowledge("devices.av_mode", "Migration")
    by = session.state.answers.acknowledgements["devices.av_mode"].by
    assert "\x1b" not in by and "\u202e" not in by
    assert "\\u001b" not in json.dumps(session.build_report(), ensure_ascii=True)
    session.close()


def test_the_answers_reader_is_one(tmp_path: Path) -> None:
    """Progress and answers files go through the same reader: an acknowledgement saved in progress is
    the same value an answers file gives."""
    answers = Answers.from_dict({"acknowledgements": {"devices.av_mode": {
        "by": "a", "at": "2025-06-01T09:00:00Z", "reason": "Migration", "expires": "2027-01-31"}}})
    assert Answers.from_dict(answers.to_dict()) == answers
    import dex_tui.acknowledgements as acks

    assert not hasattr(acks, "read_answers_file") and not hasattr(acks, "parse_entries")
