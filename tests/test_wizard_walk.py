"""Walk the whole wizard with the keyboard on demo scenarios, at 80x24 and 120x40: skipping Security
operator, skipping Security administrator, Hunting, quitting mid-way and resuming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from dex_tui.results import Status
from screens.app import WizardApp
from screens.choices import ChoiceList
from screens.dialogs import SkipRoleDialog
from screens.export import ExportDialog
from screens.textdump import screen_text
from tests.test_wizard_support import NOW, make_app, reach, shown, wait_for

SIZES = [(80, 24), (120, 40)]
REASON = tuple("SOCdecision")


async def through_eligibility(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "welcome")
    await pilot.press("ctrl+n")
    await reach(app, pilot, "signin")
    await wait_for(pilot, lambda: app.session is not None, timeout=10)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "eligibility")
    await wait_for(pilot, lambda: not app.checks_running and app.results, timeout=15)
    await pilot.pause()
    assert "Checked at" in screen_text(app)
    await pilot.press("ctrl+n")


async def accept_terms(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "terms")
    await pilot.press("end")
    await wait_for(pilot, lambda: not app.screen.query_one("#accept").disabled)
    await pilot.press("tab")
    assert app.focused is app.screen.query_one("#accept")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.flow.answers.terms is not None)
    await pilot.press("ctrl+n")


async def order_licence(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "license")
    await pilot.press("p")  # demo: the order is placed in the fake tenant
    await wait_for(pilot, lambda: "looks like Defender Experts" in screen_text(app), timeout=10)
    app.screen.query_one("#confirm-license").focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.flow.answers.license is not None)
    assert "Order confirmed by admin@contoso.onmicrosoft.com" in screen_text(app)
    await pilot.press("ctrl+n")


async def decide_role(app: WizardApp, pilot: Pilot[Any], *, skip: bool) -> None:
    """Answer the skip dialog with the keyboard: tick the acknowledgement and say why, then Skip; or
    Grant (its button: Esc only cancels)."""
    await wait_for(pilot, lambda: shown(app, SkipRoleDialog))
    dialog = app.screen
    if skip:
        await pilot.press("space")  # the acknowledgement checkbox has focus
        await pilot.press("tab", *REASON, "enter")  # the reason, and Enter skips
    else:
        dialog.query_one("#skip-grant").focus()
        await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is not dialog)  # gone (or the next role's dialog)
    await pilot.pause()


async def set_permissions(app: WizardApp, pilot: Pilot[Any], *, operator: bool, administrator: bool) -> None:
    await reach(app, pilot, "permissions")
    assert app.screen.query_one("#role-security_reader", Checkbox).disabled  # cannot be unticked
    if operator:
        await pilot.press("space")  # Security operator has focus
        await wait_for(pilot, lambda: app.flow.answers.roles["security_operator"] is True)
    await pilot.press("ctrl+n")
    if not operator:
        await decide_role(app, pilot, skip=True)
    if administrator:
        await decide_role(app, pilot, skip=False)
    else:
        await decide_role(app, pilot, skip=True)
    await reach(app, pilot, "access")


async def give_access(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "access")
    await wait_for(pilot, lambda: app.results.get("access.service_provider") is not None, timeout=10)
    await pilot.press("p")  # demo: Give access in the fake portal
    await wait_for(pilot, lambda: all(app.results[i].status == Status.PASS
                                      for i in ("access.service_provider", "access.conditional_access")),
                   timeout=10)
    await wait_for(pilot, lambda: "Both are in place" in screen_text(app))
    await pilot.press("ctrl+n")


async def export_and_finish(app: WizardApp, pilot: Pilot[Any], target: Path, fmt_key: tuple[str, ...] = ()) -> None:
    await reach(app, pilot, "review")
    await pilot.press("e")
    await wait_for(pilot, lambda: shown(app, ExportDialog))
    if fmt_key:
        await pilot.press(*fmt_key)
    app.screen.query_one("#export-path", Input).value = str(target)
    app.screen.query_one("#export-path", Input).focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: target.exists(), timeout=10)
    await wait_for(pilot, lambda: app.core.exports)
    await pilot.pause()
    assert "Exported" in screen_text(app)
    await pilot.press("ctrl+n")  # Finish
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_fresh_tenant_skipping_security_operator(state_dir: Path, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(state_dir, "fresh")
    report = tmp_path / "report.json"
    async with app.run_test(size=size) as pilot:
        await through_eligibility(app, pilot)
        await accept_terms(app, pilot)
        await order_licence(app, pilot)
        await set_permissions(app, pilot, operator=False, administrator=True)
        text = screen_text(app)
        assert "Security operator skipped: the experts cannot isolate a device" in text  # stays visible
        await give_access(app, pilot)
        await reach(app, pilot, "review")
        assert "Security operator skipped" in screen_text(app)
        await export_and_finish(app, pilot, report)
    # The only warning is the skipped role, acknowledged with a reason: it is kept but does not count.
    assert app.return_value == 0
    data = json.loads(report.read_text())
    assert data["verdict"] == "ready" and data["summary"]["acknowledged"] == 1
    assert data["tenant"]["name"] == "Contoso Ltd"
    assert data["answers"]["roles"] == {"security_operator": False, "security_administrator": True}
    roles = {c["id"]: c for c in data["checks"]}["experts.roles"]
    assert roles["status"] == "warn" and "Isolate a device" in json.dumps(roles)
    assert roles["acknowledgement"]["state"] == "active"
    assert roles["acknowledgement"]["acknowledgements"][0]["reason"] == "SOCdecision"
    events = [(r["event"], r.get("role")) for r in app.core.audit.read()]
    assert events == [("terms_accepted", None), ("license_confirmed", None),
                      ("role_skipped", "security_operator"), ("role_granted", "security_administrator"),
                      ("report_exported", None)]
    skipped = app.core.audit.read()[2]
    assert skipped["acknowledged_by"] == "admin@contoso.onmicrosoft.com" and skipped["acknowledged_at"] == NOW
    assert skipped["reason"] == "SOCdecision" and skipped["expires"] is None
    assert "Isolate a device" in skipped["lost"]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_fresh_tenant_skipping_security_administrator(state_dir: Path, tmp_path: Path,
                                                            size: tuple[int, int]) -> None:
    app = make_app(state_dir, "fresh")
    report = tmp_path / "report.md"
    async with app.run_test(size=size) as pilot:
        await through_eligibility(app, pilot)
        await accept_terms(app, pilot)
        await order_licence(app, pilot)
        await set_permissions(app, pilot, operator=True, administrator=False)
        assert "Security administrator skipped" in screen_text(app)
        assert "Security operator skipped" not in screen_text(app)
        await give_access(app, pilot)
        await export_and_finish(app, pilot, report, fmt_key=("down", "enter"))  # JSON -> Markdown
    assert app.return_value == 0  # the skip is acknowledged with a reason
    assert report.read_text().startswith("#")
    assert "acknowledged" in report.read_text()
    assert app.core.audit.read()[-1]["format"] == "markdown"


async def test_ready_tenant_granting_everything_is_ready(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir, "ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await through_eligibility(app, pilot)
        await accept_terms(app, pilot)
        await reach(app, pilot, "license")
        app.screen.query_one("#confirm-license").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.flow.answers.license is not None)
        await pilot.press("ctrl+n")
        await set_permissions(app, pilot, operator=True, administrator=True)
        await wait_for(pilot, lambda: "Both are in place" in screen_text(app), timeout=10)
        assert "skipped" not in screen_text(app)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "review")
        await wait_for(pilot, lambda: "Ready: every required check passed" in screen_text(app))
        await pilot.press("ctrl+n")
    assert app.return_value == 0


async def test_hunting_flow_has_no_permissions_or_access(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir, "ready")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#service", ChoiceList).value = "hunting"
        await through_eligibility(app, pilot)
        await accept_terms(app, pilot)
        await reach(app, pilot, "license")
        assert "Step 5/8" in screen_text(app)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "hunting_contacts")  # today's onboarding: contacts, then the sample
        field = app.screen.query_one("#contacts-primary", Input)
        field.focus()
        await pilot.press(*"soc@contoso.com")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.flow.answers.confirmation("hunting_contacts") is not None)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "hunting_sample")
        await pilot.press("p")  # demo: Generate a sample notification in the fake portal
        button = app.screen.query_one("#record-sample")
        button.focus()
        await wait_for(pilot, lambda: app.focused is button)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.results["hunting.sample_notification"].status == Status.PASS, timeout=10)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "review")
        text = screen_text(app)
        assert "Defender Experts for Hunting" in text and "Roles:" not in text
        assert "Notification contacts:" in text and "primary: soc@contoso.com" in text
        assert app.results["access.service_provider"].status == Status.SKIPPED
        seen = screen_text(app)
        review = app.screen.query_one("#review-scroll")
        while "Sample notification received" not in seen and review.scroll_y < review.max_scroll_y:
            review.scroll_down(animate=False)
            await pilot.pause()
            seen = screen_text(app)
        assert "Sample notification received" in seen  # the Hunting review lists Hunting's own check
        await pilot.press("ctrl+n")
    assert app.return_value == 1  # the licence order was not confirmed
    assert [r["event"] for r in app.core.audit.read()][-2:] == ["hunting_contacts_recorded",
                                                                 "sample_notification_sent"]


async def test_quit_mid_way_and_resume_keeps_the_answers(state_dir: Path) -> None:
    app = make_app(state_dir, "fresh")
    async with app.run_test(size=(80, 24)) as pilot:
        await through_eligibility(app, pilot)
        await accept_terms(app, pilot)
        await pilot.press("ctrl+n")  # licence: go on without confirming
        await reach(app, pilot, "permissions")
        await pilot.press("ctrl+n")
        await decide_role(app, pilot, skip=True)  # operator skipped
        await decide_role(app, pilot, skip=True)  # administrator skipped
        await reach(app, pilot, "access")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.screen.query("#confirm-yes"))
        app.screen.query_one("#confirm-yes").press()
        await pilot.pause()
    assert app.return_value == 0

    again = make_app(state_dir, "fresh")
    async with again.run_test(size=(120, 40)) as pilot:
        await reach(again, pilot, "signin")
        assert "you were on 'Service provider access'" in screen_text(again)
        await wait_for(pilot, lambda: again.session is not None, timeout=10)
        await pilot.press("ctrl+n")
        await reach(again, pilot, "access")
        assert again.flow.answers.terms is not None
        assert again.flow.answers.skipped_roles() == ["security_operator", "security_administrator"]
        text = screen_text(again)
        assert "Security operator skipped" in text and "Security administrator skipped" in text
        await pilot.press("escape")
        await reach(again, pilot, "permissions")
        assert "skipped" in str(again.screen.query_one("#role-security_operator", Checkbox).label)
        await wait_for(pilot, lambda: not again.checks_running, timeout=15)
    assert "role_skipped" in [r["event"] for r in again.core.audit.read()]
