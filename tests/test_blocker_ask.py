"""Leaving a step with a failed or unknown blocker asks first (issue 16 item 2): headless, through the
session, and in the wizard (Esc and Stay change nothing; only "Go on anyway" moves, and is audited)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls
from dex_tui.session import WizardSession
from dex_tui.settings import Settings
from screens.dialogs import ConfirmDialog
from tests.test_wizard_support import make_app, on_step, reach, shown, sign_in, wait_for

NOW = "2026-11-24T10:00:00Z"


def session_on(tmp_path: Path, scenario: str) -> WizardSession:
    """A session of ``scenario`` signed in, its checks run, on the eligibility step."""
    demo = DemoControls(FakeCloud(load_scenario(scenario), sleep=lambda seconds: None))
    session = WizardSession(Settings(demo=scenario, state_dir=tmp_path), demo=demo, now_iso=lambda: NOW)
    session.goto("signin")
    auth = session.runtime.authenticator()
    session.signed_in(auth.sign_in_with_device_code(lambda prompt: demo.approve_device_code()))
    session.run_checks()
    session.goto("eligibility")
    return session


def audit_events(session: WizardSession) -> list[dict[str, object]]:
    if not session.audit.path.exists():
        return []
    return [json.loads(line) for line in session.audit.path.read_text().splitlines()]


@pytest.mark.parametrize(("scenario", "blocker"), [("missing-entra-p1", "license.entra_p1"),
                                                   ("gcc-high", "cloud.availability")])
def test_next_past_a_failed_blocker_asks_and_going_on_is_audited(tmp_path: Path, scenario: str,
                                                                 blocker: str) -> None:
    session = session_on(tmp_path, scenario)
    move = session.go_next()
    assert move.step is None and [b.id for b in move.ask] == [blocker]
    assert move.ask[0].status == "fail" and move.ask[0].title
    assert session.state.step == "eligibility" and audit_events(session) == []
    move = session.go_next(go_past=(blocker,))
    assert move.step == "terms"
    [event] = audit_events(session)
    assert event["event"] == "went_past_blockers" and event["step"] == "eligibility"
    assert event["blockers"] == [{"id": blocker, "title": move_title(session, blocker), "status": "fail"}]
    session.close()


def move_title(session: WizardSession, check_id: str) -> str:
    return session.results[check_id].title


def test_a_blocker_a_later_step_settles_is_asked_on_that_step_only(tmp_path: Path) -> None:
    session = session_on(tmp_path, "fresh")  # the experts' access is set up on step 7, not yet
    assert {"access.service_provider", "access.conditional_access"} <= {
        i for i, r in session.results.items() if r.status.value == "fail"}
    assert session.open_blockers("eligibility") == ()
    assert session.go_next().step == "terms"
    session.goto("access")
    move = session.go_next()
    assert {b.id for b in move.ask} == {"access.service_provider", "access.conditional_access"}
    session.close()


def test_a_blocker_gone_past_is_not_asked_again_unless_its_status_changes(tmp_path: Path) -> None:
    session = session_on(tmp_path, "missing-entra-p1")
    assert session.go_next(go_past=("license.entra_p1",)).step == "terms"
    session.confirm("terms", service="xdr")
    assert session.go_next().step == "license"
    assert session.open_blockers("license") == ()
    session.passed_blockers["license.entra_p1"] = "unknown"  # as if it had been gone past while unknown
    assert [b.id for b in session.open_blockers("license")] == ["license.entra_p1"]
    session.close()


def test_accepting_some_blockers_does_not_accept_others(tmp_path: Path) -> None:
    session = session_on(tmp_path, "fresh")
    session.goto("access")
    move = session.go_next(go_past=("access.service_provider",))
    assert move.step is None and {b.id for b in move.ask} == {"access.service_provider", "access.conditional_access"}
    assert audit_events(session) == []
    session.close()


def test_finishing_on_the_review_does_not_ask(tmp_path: Path) -> None:
    session = session_on(tmp_path, "missing-entra-p1")
    session.goto("review")
    move = session.go_next()
    assert move.ask == () and move.finished == 2
    session.close()


async def test_ctrl_n_on_eligibility_asks_esc_stays_and_go_on_anyway_is_recorded(state_dir: Path) -> None:
    app = make_app(state_dir, "missing-entra-p1")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=10)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert "Entra ID P1 for all users" in dialog.question and "blocker" in dialog.title_text
        await pilot.press("escape")  # Esc: stays, nothing recorded
        await wait_for(pilot, lambda: on_step(app, "eligibility"))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        await pilot.press("enter")  # the focused button is Stay
        await wait_for(pilot, lambda: on_step(app, "eligibility"))
        assert not app.core.audit.path.exists() or "went_past" not in app.core.audit.path.read_text()
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        await pilot.click("#confirm-yes")
        await reach(app, pilot, "terms")
        events = [json.loads(line) for line in app.core.audit.path.read_text().splitlines()]
        assert [e["event"] for e in events] == ["went_past_blockers"]
        assert events[0]["blockers"][0]["id"] == "license.entra_p1"
