"""The skip and acknowledgement dialogs, driven with the keyboard: Esc (and Cancel) change nothing, a
grant or a skip happens only through its button, the reason is required, the expiry must be a real
date after today, blockers cannot be acknowledged (issue 16 item 1, issue 19)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from dex_tui.answers import Answers, Confirmation
from dex_tui.progress import Progress, ProgressStore, tenant_key
from screens.app import WizardApp
from screens.checks_view import ChecksTable
from screens.dialogs import AcknowledgeDialog, ErrorDialog, SkipRoleDialog
from screens.textdump import screen_text
from tests.test_wizard_support import NOW, make_app, reach, shown, sign_in, wait_for


def at_permissions(state_dir: Path, scenario: str = "ready") -> WizardApp:
    """The wizard resuming on Manage permissions (terms and licence confirmed)."""
    done = Confirmation("admin@contoso.onmicrosoft.com", NOW)
    answers = Answers().confirmed("terms", done).confirmed("license", done)
    store = ProgressStore(state_dir, tenant_key(None, scenario), clock=lambda: NOW)
    store.save(Progress(step="permissions", answers=answers,
                        completed=("welcome", "signin", "eligibility", "terms", "license")))
    store.release()
    return make_app(state_dir, scenario)


async def open_permissions(app: WizardApp, pilot: Pilot[Any]) -> None:
    await sign_in(app, pilot)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "permissions", timeout=10)


def role_events(app: WizardApp) -> list[tuple[object, object]]:
    return [(r["event"], r.get("role")) for r in app.core.audit.read() if str(r["event"]).startswith("role_")]


async def press_button(app: WizardApp, pilot: Pilot[Any], selector: str) -> None:
    """Focus a dialog's button (focus moves on the next idle), then press it with Enter. A button
    ignores presses for 0.2 s after one (its "-active" look), so a second press waits that out."""
    button = app.screen.query_one(selector)
    button.focus()
    await wait_for(pilot, lambda: app.focused is button and not button.has_class("-active"))
    await pilot.press("enter")


async def focused(app: WizardApp, pilot: Pilot[Any], selector: str) -> None:
    await wait_for(pilot, lambda: app.focused is app.screen.query_one(selector))


async def skip_dialog(app: WizardApp, pilot: Pilot[Any]) -> SkipRoleDialog:
    await wait_for(pilot, lambda: shown(app, SkipRoleDialog))
    await pilot.pause()
    dialog = app.screen
    assert isinstance(dialog, SkipRoleDialog)
    return dialog


async def test_esc_in_the_skip_dialog_asked_by_next_changes_nothing(state_dir: Path) -> None:
    app = at_permissions(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_permissions(app, pilot)
        await pilot.press("ctrl+n")  # Security operator undecided: Next asks
        await skip_dialog(app, pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not shown(app, SkipRoleDialog))
        await pilot.pause()
        assert app.flow.step == "permissions"  # Next did not go on
        assert app.flow.answers.roles == {"security_operator": None, "security_administrator": None}
        assert app.screen.query_one("#role-security_operator", Checkbox).value is False
        assert role_events(app) == []
        await pilot.press("ctrl+n")  # asked again, and Cancel is the same as Esc
        await skip_dialog(app, pilot)
        await press_button(app, pilot, "#skip-cancel")
        await wait_for(pilot, lambda: not shown(app, SkipRoleDialog))
        assert app.flow.answers.roles["security_operator"] is None and role_events(app) == []
        await pilot.press("ctrl+c")
    assert app.return_value == 130


async def test_esc_after_unticking_a_granted_role_keeps_it_granted(state_dir: Path) -> None:
    app = at_permissions(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_permissions(app, pilot)
        await pilot.press("space")  # Security operator has focus: granted
        await wait_for(pilot, lambda: app.flow.answers.roles["security_operator"] is True)
        await pilot.press("space")  # unticked: the skip dialog asks
        dialog = await skip_dialog(app, pilot)
        await focused(app, pilot, "#skip-ack")
        await pilot.press("space", "tab", *"Ours")  # even with the box ticked and a reason typed
        assert dialog.query_one("#skip-reason", Input).value == "Ours"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not shown(app, SkipRoleDialog))
        await pilot.pause()
        box = app.screen.query_one("#role-security_operator", Checkbox)
        assert box.value is True and "grant" in str(box.label)
        assert app.flow.answers.roles["security_operator"] is True
        assert "skip_security_operator" not in app.flow.answers.acknowledgements
        assert role_events(app) == [("role_granted", "security_operator")]  # Esc recorded nothing
        await pilot.press("ctrl+c")


async def test_grant_happens_only_through_its_button(state_dir: Path) -> None:
    app = at_permissions(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_permissions(app, pilot)
        await pilot.press("ctrl+n")
        await skip_dialog(app, pilot)
        await press_button(app, pilot, "#skip-grant")
        await wait_for(pilot, lambda: app.flow.answers.roles["security_operator"] is True)
        assert role_events(app) == [("role_granted", "security_operator")]
        await pilot.press("ctrl+c")


async def test_skipping_needs_the_box_and_a_reason_and_a_valid_expiry(state_dir: Path) -> None:
    app = at_permissions(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_permissions(app, pilot)
        await pilot.press("ctrl+n")
        dialog = await skip_dialog(app, pilot)
        hint = dialog.query_one("#skip-hint", Static)
        await press_button(app, pilot, "#skip-confirm")  # nothing ticked
        await wait_for(pilot, lambda: "Tick the box first" in str(hint.render()))
        assert shown(app, SkipRoleDialog)
        box = dialog.query_one("#skip-ack", Checkbox)
        await wait_for(pilot, lambda: app.focused is box)  # the box has focus again
        await pilot.press("space")
        await wait_for(pilot, lambda: box.value)
        await press_button(app, pilot, "#skip-confirm")  # no reason
        await wait_for(pilot, lambda: "needs a reason" in str(hint.render()))
        assert shown(app, SkipRoleDialog)
        await wait_for(pilot, lambda: app.focused is dialog.query_one("#skip-reason"))
        await pilot.press(*"SOCacts", "tab", *"2026-02-30", "enter")  # not a date
        await wait_for(pilot, lambda: "is not a date" in str(hint.render()))
        assert shown(app, SkipRoleDialog)
        expires = dialog.query_one("#skip-expires", Input)
        await focused(app, pilot, "#skip-expires")
        expires.value = ""
        await pilot.press(*"2026-11-24", "enter")  # today: it would have expired already
        await wait_for(pilot, lambda: "not after today (2026-11-24)" in str(hint.render()))
        assert shown(app, SkipRoleDialog)
        assert dialog.query_one("#skip-reason", Input).value == "SOCacts"  # what was typed is kept
        assert app.flow.answers.roles["security_operator"] is None and role_events(app) == []
        await focused(app, pilot, "#skip-expires")
        expires.value = ""
        await pilot.press(*"2027-01-31", "enter")
        await wait_for(pilot, lambda: app.flow.answers.roles["security_operator"] is False)
        ack = app.flow.answers.acknowledgements["skip_security_operator"]
        assert (ack.reason, ack.expires) == ("SOCacts", date(2027, 1, 31))
        skipped = app.core.audit.read()[-1]
        assert skipped["event"] == "role_skipped" and skipped["expires"] == "2027-01-31"
        await skip_dialog(app, pilot)  # Next goes on to ask about Security administrator
        warnings = app.screen_stack[-2].query_one("#role-warnings", Static)
        assert "SOCacts (until 2027-01-31)" in str(warnings.render())
        await pilot.press("ctrl+c")


async def eligibility(app: WizardApp, pilot: Pilot[Any]) -> ChecksTable:
    await sign_in(app, pilot)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "eligibility")
    await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
    return app.screen.query_one("#checks", ChecksTable)


async def test_acknowledging_a_warning_on_eligibility(state_dir: Path) -> None:
    app = make_app(state_dir, "passive-av")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await eligibility(app, pilot)
        table.move_cursor(row=table.get_row_index("devices.av_mode"))
        await pilot.press("k")
        await wait_for(pilot, lambda: shown(app, AcknowledgeDialog))
        await focused(app, pilot, "#ack-reason")
        await pilot.press(*"Migration", "escape")  # Esc: nothing recorded
        await wait_for(pilot, lambda: not shown(app, AcknowledgeDialog))
        assert "devices.av_mode" not in app.flow.answers.acknowledgements
        await pilot.press("k")
        await wait_for(pilot, lambda: shown(app, AcknowledgeDialog))
        await focused(app, pilot, "#ack-reason")
        await pilot.press("enter")  # no reason: refused, the dialog stays
        await wait_for(pilot, lambda: "needs a reason" in screen_text(app))
        assert shown(app, AcknowledgeDialog)
        await focused(app, pilot, "#ack-reason")
        await pilot.press(*"Migration", "tab", *"2027-03-31", "enter")
        await wait_for(pilot, lambda: "devices.av_mode" in app.flow.answers.acknowledgements)
        assert app.flow.answers.acknowledgements["devices.av_mode"].expires == date(2027, 3, 31)
        record = app.core.audit.read()[-1]
        assert (record["event"], record["check"], record["reason"], record["expires"]) == (
            "check_acknowledged", "devices.av_mode", "Migration", "2027-03-31")
        await pilot.press("k")  # again: the current acknowledgement is shown, and can be withdrawn
        await wait_for(pilot, lambda: shown(app, AcknowledgeDialog))
        assert "Acknowledged now by admin@contoso.onmicrosoft.com" in screen_text(app)
        await press_button(app, pilot, "#ack-withdraw")
        await wait_for(pilot, lambda: "devices.av_mode" not in app.flow.answers.acknowledgements)
        assert app.core.audit.read()[-1]["event"] == "acknowledgement_withdrawn"
        await pilot.press("ctrl+c")


async def test_a_blocker_cannot_be_acknowledged(state_dir: Path) -> None:
    app = make_app(state_dir, "missing-entra-p1")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await eligibility(app, pilot)
        table.move_cursor(row=table.get_row_index("license.entra_p1"))
        await pilot.press("k")
        await wait_for(pilot, lambda: shown(app, ErrorDialog))
        assert "blockers cannot be acknowledged" in screen_text(app)
        assert not shown(app, AcknowledgeDialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not shown(app, ErrorDialog))
        assert app.flow.answers.acknowledgements == {}
        assert [r["event"] for r in app.core.audit.read()] == []
        await pilot.press("ctrl+c")
