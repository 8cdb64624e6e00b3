"""Today's wizard steps, headless: the answer changes they record (dex_tui.mdr_choices), the address and
group-name fields, WizardSession.record_choice (who/when, audit, re-evaluation), and --service for the
wizard on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dex_tui import cli, mdr_choices
from dex_tui.answers import Answers, Confirmation
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls
from dex_tui.mdr_answers import Contact, MdrAnswers, Recorded, split_addresses, split_names
from dex_tui.results import Status
from dex_tui.session import WizardSession
from dex_tui.settings import Settings

NOW = "2026-11-24T10:00:00Z"
ME = Confirmation("admin@contoso.com", NOW)


def test_access_levels_record_who_and_keep_or_give_the_operator_acknowledgement() -> None:
    reader = mdr_choices.access_levels(("security_reader",))(Answers(service="mdr"), ME)
    assert reader.mdr is not None and reader.mdr.access_levels == ("security_reader",)
    assert reader.mdr.access_recorded == Recorded(ME.by, NOW) and reader.mdr.operator_skip_acknowledged is None
    acked = mdr_choices.access_levels(("security_reader",), acknowledged=True)(reader, ME)
    assert acked.mdr is not None and acked.mdr.operator_skip_acknowledged == Recorded(ME.by, NOW)
    again = mdr_choices.access_levels(("security_reader",))(acked, ME)  # an earlier acknowledgement stays
    assert again.mdr is not None and again.mdr.operator_skip_acknowledged is not None
    both = mdr_choices.access_levels(("security_operator", "security_reader"))(again, ME)
    assert both.mdr is not None and both.mdr.access_levels == ("security_reader", "security_operator")
    assert both.mdr.operator_skip_acknowledged is None  # nothing left out, nothing acknowledged


def test_teams_choice_and_set_up() -> None:
    chosen = mdr_choices.teams(True)(Answers(service="mdr"), ME)
    assert chosen.mdr == MdrAnswers(teams=True)
    set_up = mdr_choices.teams(True, set_up=True)(chosen, ME)
    assert set_up.mdr is not None and set_up.mdr.teams_recorded == Recorded(ME.by, NOW)
    declined = mdr_choices.teams(False)(set_up, ME)
    assert declined.mdr is not None and declined.mdr.teams is False and declined.mdr.teams_recorded is None


def test_hunting_changes_keep_each_other() -> None:
    contacts = (Contact("soc@contoso.com", "primary"),)
    answers = mdr_choices.sample_sent(mdr_choices.hunting_contacts(contacts)(Answers(service="hunting"), ME), ME)
    assert answers.hunting is not None and answers.hunting.contacts == contacts
    assert answers.hunting.sample_notification == Recorded(ME.by, NOW)
    # what the wizard records is what the answers file reads back
    assert Answers.from_dict(answers.to_dict()).hunting == answers.hunting


@pytest.mark.parametrize(("typed", "addresses", "problem"), [
    ("soc@contoso.com, ciso@contoso.com", ("soc@contoso.com", "ciso@contoso.com"), None),
    ("soc@contoso.com; SOC@contoso.com  a@b.org", ("soc@contoso.com", "a@b.org"), None),
    ("", (), None),
    ("soc@contoso.com, nobody", (), "'nobody' is not an e-mail address"),
    ("x@y\x1b[31m.com", (), "is not an e-mail address"),
    (",".join(f"u{n}@contoso.com" for n in range(101)), (), "101 addresses; at most 100"),
])
def test_address_fields(typed: str, addresses: tuple[str, ...], problem: str | None) -> None:
    found, why = split_addresses(typed)
    assert found == addresses
    assert (why is None) if problem is None else (why is not None and problem in why)
    assert why is None or "\x1b" not in why  # shown neutralised


def test_group_name_fields() -> None:
    assert split_names(" Servers , VIP Executives,servers,") == (("Servers", "VIP Executives"), None)
    assert split_names("a" * 300)[1] is not None
    assert split_names("bad\x07name")[1] is not None


def session(tmp_path: Path) -> WizardSession:
    demo = DemoControls(FakeCloud(load_scenario("mdr-ready"), sleep=lambda seconds: None))
    wizard = WizardSession(Settings(demo="mdr-ready", state_dir=tmp_path), demo=demo, now_iso=lambda: NOW)
    wizard.choose_target(service="mdr", cloud=None, tenant=None)
    wizard.goto("signin")
    auth = wizard.runtime.authenticator()
    wizard.signed_in(auth.sign_in_with_device_code(lambda prompt: demo.approve_device_code()))
    return wizard


def test_record_choice_saves_audits_and_evaluates_again(tmp_path: Path) -> None:
    wizard = session(tmp_path)
    wizard.run_checks()
    assert wizard.results["contacts.notification"].status == Status.UNKNOWN
    contacts = (Contact("soc@contoso.com", "incident_notification"), Contact("ciso@contoso.com", "service_review"))
    wizard.record_choice("mdr_contacts", mdr_choices.mdr_contacts(contacts), contacts=["soc", "ciso"])
    assert wizard.results["contacts.notification"].status == Status.PASS  # from the facts read, no network
    assert wizard.state.answers.confirmation("mdr_contacts") == Confirmation(wizard.operator, NOW)
    saved = json.loads(wizard.progress_store.path.read_text())["answers"]
    assert saved["mdr"]["contacts"][1] == {"address": "ciso@contoso.com", "for": "service_review"}
    assert saved["mdr_contacts"] == {"by": wizard.operator, "at": NOW}
    event = wizard.audit.read()[-1]
    assert event["event"] == "contacts_recorded" and event["contacts"] == ["soc", "ciso"]
    assert "hunting.sample_notification" not in wizard.results  # another service's check is not evaluated
    with pytest.raises(ValueError, match="confirms nothing"):
        wizard.record_choice("mdr_readiness", mdr_choices.sample_sent)
    wizard.close()


def test_demo_actions_of_todays_steps(tmp_path: Path) -> None:
    wizard = session(tmp_path)
    assert "Defender Experts team now exists" in wizard.perform_demo("mdr_teams")
    refused = DemoControls(FakeCloud(load_scenario("mdr-no-group-creation")))
    assert "refused Communicate on Teams" in refused.perform("communicate_on_teams", "mdr")
    assert "sample notification was generated" in wizard.demo.perform("send_sample_notification", "hunting")  # type: ignore[union-attr]
    wizard.close()


def test_service_before_a_command_is_refused_and_a_bad_one_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["--service", "mdr", "check"]) == 4
    assert "write it after the command" in capsys.readouterr().err
    assert cli.run(["--service", "moon"]) == 4
    assert "invalid choice: 'moon'" in capsys.readouterr().err


def test_service_reaches_the_wizard(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_wizard(settings: Settings, restart: bool, argv: object = (), approval: str | None = None,
                    service: str | None = None) -> int:
        seen.update(service=service, demo=settings.demo)
        return 0

    monkeypatch.setattr(cli, "_start_wizard", fake_wizard)
    assert cli.run(["--demo", "mdr-ready", "--service", "mdr"]) == 0
    assert seen == {"service": "mdr", "demo": "mdr-ready"}


def test_exclusion_candidates_are_read_from_the_tenant(tmp_path: Path) -> None:
    demo = DemoControls(FakeCloud(load_scenario("mdr-synced-exclusion"), sleep=lambda seconds: None))
    wizard = WizardSession(Settings(demo="mdr-synced-exclusion", state_dir=tmp_path), demo=demo, now_iso=lambda: NOW)
    with pytest.raises(Exception, match="Nobody is signed in"):
        wizard.exclusion_candidates()
    wizard.goto("signin")
    auth = wizard.runtime.authenticator()
    wizard.signed_in(auth.sign_in_with_device_code(lambda prompt: demo.approve_device_code()))
    wizard.run_checks()
    found = wizard.exclusion_candidates()
    assert [(c.name, c.note) for c in found.device_groups][:2] == [("Servers", "20 devices"),
                                                                   ("Workstations", "250 devices")]
    synced = {c.name: c for c in found.user_groups}["VIP Executives"]
    assert synced.pickable is False and "on-premises" in synced.note
    assert found.notes == ()
    wizard.close()
