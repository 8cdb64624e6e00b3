"""Walk today's Defender Experts MDR flow (``--service mdr``) with the keyboard on the mdr-* demo
tenants, at 80x24 and 120x40: every access level granted and a ready review; Security Operator left
out (the acknowledgement, the warning on every later step); contacts that are not addresses refused;
exclusions checked live; Teams refused by the portal when group creation is off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.results import Status
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.choices import ChoiceList
from screens.dialogs import SkipRoleDialog
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, reach, shown, wait_for
from tests.test_wizard_walk import export_and_finish

SIZES = [(80, 24), (120, 40)]
ME = "admin@contoso.onmicrosoft.com"


def mdr_app(state_dir: Path, scenario: str = "mdr-ready") -> WizardApp:
    """The wizard started as ``dex-tui --demo SCENARIO --service mdr``, with frozen clocks."""
    return WizardApp(Settings(demo=scenario, state_dir=state_dir), fake_cloud=FakeCloud(load_scenario(scenario)),
                     clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW, graph_options={"sleep": lambda s: None},
                     service="mdr")


async def to_permissions(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "welcome")
    assert app.screen.query_one("#service", ChoiceList).value == "mdr"  # --service mdr
    assert "MDR to onboard today" in screen_text(app)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "signin")
    await wait_for(pilot, lambda: app.session is not None, timeout=10)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "eligibility")
    await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
    assert "Step 3/10" in screen_text(app)
    assert app.results["license.mdr_coverage"].status == Status.PASS
    await pilot.press("ctrl+n")
    await reach(app, pilot, "mdr_permissions")


async def press_button(app: WizardApp, pilot: Pilot[Any], button_id: str) -> None:
    """Focus a button and press Enter on it, as Tab would have reached it."""
    button = app.screen.query_one(button_id)
    button.focus()
    await wait_for(pilot, lambda: app.focused is button)
    await pilot.press("enter")


async def type_into(app: WizardApp, pilot: Pilot[Any], field_id: str, text: str) -> None:
    field = app.screen.query_one(field_id, Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)


async def record_exclusions(app: WizardApp, pilot: Pilot[Any], users: str) -> None:
    await reach(app, pilot, "mdr_exclusions")
    await type_into(app, pilot, "#exclusions-device_groups", "Servers")
    await type_into(app, pilot, "#exclusions-user_groups", users)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.flow.answers.confirmation("mdr_exclusions") is not None)
    await wait_for(pilot, lambda: getattr(app.screen, "rounds", 0) >= 1 and not app.screen.watching, timeout=10)
    await pilot.pause()


async def record_contacts(app: WizardApp, pilot: Pilot[Any]) -> None:
    await reach(app, pilot, "mdr_contacts")
    assert "Record the notification contacts" in screen_text(app)  # the gate, until recorded
    await type_into(app, pilot, "#contacts-incident_notification", "soc@contoso.com, not-an-address")
    await pilot.press("enter")
    await pilot.pause()
    assert "'not-an-address' is not an e-mail address" in screen_text(app)
    assert app.flow.answers.confirmation("mdr_contacts") is None  # nothing recorded
    await type_into(app, pilot, "#contacts-incident_notification", "soc@contoso.com")
    await type_into(app, pilot, "#contacts-service_review", "ciso@contoso.com")
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.flow.answers.confirmation("mdr_contacts") is not None)
    assert f"Recorded by {ME} at {NOW}" in screen_text(app)
    assert app.results["contacts.notification"].status == Status.PASS
    await pilot.press("ctrl+n")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_mdr_ready_with_both_access_levels_ends_ready(state_dir: Path, tmp_path: Path,
                                                            size: tuple[int, int]) -> None:
    app = mdr_app(state_dir)
    report = tmp_path / "report.json"
    async with app.run_test(size=size) as pilot:
        await to_permissions(app, pilot)
        assert "Choose" not in screen_text(app)  # Next asks instead of being disabled
        await pilot.press("space")  # Security Reader has focus
        await pilot.press("tab", "space")  # Security Operator
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None
                       and app.flow.answers.mdr.access_levels == ("security_reader", "security_operator"))
        await pilot.press("ctrl+n")
        await record_exclusions(app, pilot, "VIP Executives")
        assert app.results["exclusions.groups"].status == Status.PASS
        await pilot.press("ctrl+n")
        await record_contacts(app, pilot)
        await reach(app, pilot, "mdr_teams")
        await press_button(app, pilot, "#teams-yes")
        await wait_for(pilot, lambda: app.screen.query_one("#teams-set-up").display, timeout=10)
        assert "does not exist yet" in app.results["teams.ready"].summary
        await pilot.press("p")  # demo: Communicate on Teams in the fake portal; the step looks again
        await wait_for(pilot, lambda: "team exists" in app.results["teams.ready"].summary, timeout=10)
        await press_button(app, pilot, "#teams-set-up")
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None and app.flow.answers.mdr.teams_recorded
                       is not None and app.results["teams.ready"].status == Status.PASS, timeout=10)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "access")
        await wait_for(pilot, lambda: "Both are in place" in screen_text(app), timeout=10)
        assert "skipped" not in screen_text(app)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "mdr_readiness")
        await wait_for(pilot, lambda: "270 onboarded devices for 270" in screen_text(app), timeout=10)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "review")
        await wait_for(pilot, lambda: "Ready: every required check passed" in screen_text(app), timeout=10)
        text = screen_text(app)
        assert "Service: Defender Experts MDR" in text and "Access levels: Security Reader and Security Operator" in text
        await export_and_finish(app, pilot, report)
    assert app.return_value == 0
    data = json.loads(report.read_text())
    assert data["verdict"] == "ready" and data["service"] == "mdr"
    mdr = data["answers"]["mdr"]
    assert mdr["access_levels"] == ["security_reader", "security_operator"]
    assert mdr["exclusions"] == {"device_groups": ["Servers"], "user_groups": ["VIP Executives"]}
    assert mdr["contacts"] == [{"address": "soc@contoso.com", "for": "incident_notification"},
                               {"address": "ciso@contoso.com", "for": "service_review"}]
    assert mdr["teams"] is True and mdr["teams_recorded"] == {"by": ME, "at": NOW}
    assert data["answers"]["mdr_contacts"] == {"by": ME, "at": NOW}
    ids = [c["id"] for c in data["checks"]]
    assert "hunting.sample_notification" not in ids and "experts.access_level" in ids
    events = [r["event"] for r in app.core.audit.read()]
    assert events == ["access_levels_recorded", "access_levels_recorded", "exclusions_recorded",
                      "contacts_recorded", "teams_recorded", "teams_recorded", "report_exported"]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_leaving_out_security_operator_needs_the_acknowledgement(state_dir: Path, size: tuple[int, int]) -> None:
    app = mdr_app(state_dir)
    async with app.run_test(size=size) as pilot:
        await to_permissions(app, pilot)
        await pilot.press("space")  # Security Reader only
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None)
        assert "Security Operator left out: the experts cannot isolate a device" in screen_text(app)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, SkipRoleDialog))
        assert "Skip Security Operator?" in screen_text(app) and "Soft-delete emails" in screen_text(app)
        dialog = app.screen
        await pilot.press("tab", "enter")  # Skip it, without the acknowledgement ticked: refused
        await pilot.pause()
        assert app.screen is dialog and "Tick the box first" in screen_text(app)
        assert app.focused is dialog.query_one("#skip-ack")  # back on the box
        await pilot.press("space")
        await wait_for(pilot, lambda: dialog.query_one("#skip-ack", Checkbox).value)
        await pilot.press("tab", "enter")  # Skip it without a reason: refused, the dialog stays
        await pilot.pause()
        assert app.screen is dialog and app.flow.answers.mdr.operator_skip_acknowledged is None
        await pilot.press(*"Our SOC responds", "enter")  # the reason, then Enter: Skip it
        await wait_for(pilot, lambda: app.screen is not dialog)
        await reach(app, pilot, "mdr_exclusions")
        mdr = app.flow.answers.mdr
        assert mdr is not None and mdr.access_levels == ("security_reader",)
        assert mdr.operator_skip_acknowledged is not None and mdr.operator_skip_acknowledged.by == ME
        assert "Security operator skipped: the experts cannot isolate a device" in screen_text(app)  # every later step
        assert app.results["experts.access_level"].status == Status.WARN
        await pilot.press("escape")
        await reach(app, pilot, "mdr_permissions")
        assert app.screen.query_one("#level-security_operator", Checkbox).value is False
        await wait_for(pilot, lambda: not app.checks_running, timeout=15)
    recorded = [r for r in app.core.audit.read() if r["event"] == "access_levels_recorded"]
    assert recorded[-1]["operator_skipped"] is True and recorded[-1]["acknowledged"] is True
    assert "Isolate a device" in recorded[-1]["lost"] and recorded[-1]["by"] == ME
    assert recorded[-1]["reason"] == "Our SOC responds" and recorded[-1]["expires"] is None


async def test_exclusion_group_synced_from_on_premises_fails_live(state_dir: Path) -> None:
    app = mdr_app(state_dir, "mdr-synced-exclusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        await pilot.press("space", "tab", "space")
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None
                       and app.flow.answers.mdr.access_levels == ("security_reader", "security_operator"))
        await pilot.press("ctrl+n")
        await record_exclusions(app, pilot, "VIP Executives, Nobody Here")
        result = app.results["exclusions.groups"]
        assert result.status == Status.FAIL
        assert "synchronised from on-premises" in result.summary and "Nobody Here" in result.summary
        assert "Exclusion groups exist" in screen_text(app)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "mdr_contacts")  # optional: a failing exclusion does not block
        await wait_for(pilot, lambda: not app.checks_running, timeout=15)


async def test_teams_refused_by_the_portal_when_group_creation_is_off(state_dir: Path) -> None:
    app = mdr_app(state_dir, "mdr-no-group-creation")
    async with app.run_test(size=(120, 40)) as pilot:
        await to_permissions(app, pilot)
        await pilot.press("space", "tab", "space")
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None
                       and app.flow.answers.mdr.access_levels == ("security_reader", "security_operator"))
        await pilot.press("ctrl+n")
        await reach(app, pilot, "mdr_exclusions")
        await press_button(app, pilot, "#no-exclusions")
        await wait_for(pilot, lambda: app.flow.answers.confirmation("mdr_exclusions") is not None)
        await pilot.press("ctrl+n")
        await record_contacts(app, pilot)
        await reach(app, pilot, "mdr_teams")
        await press_button(app, pilot, "#teams-yes")
        await wait_for(pilot, lambda: app.results["teams.ready"].status == Status.FAIL, timeout=10)
        assert "group creation is turned off" in screen_text(app)
        await pilot.press("p")  # the fake portal refuses, as the real one would
        await wait_for(pilot, lambda: "refused Communicate on Teams" in str(app.screen.query_one("#portal-status")
                                                                              .render()), timeout=10)
        await press_button(app, pilot, "#teams-no")
        await wait_for(pilot, lambda: app.results["teams.ready"].status == Status.INFO, timeout=10)
        assert app.flow.answers.mdr is not None and app.flow.answers.mdr.teams is False
        await wait_for(pilot, lambda: not app.screen.watching, timeout=10)


async def test_exclusions_picked_from_the_tenant_and_esc_changes_nothing(state_dir: Path) -> None:
    from screens.group_picker import GroupPickerDialog

    app = mdr_app(state_dir, "mdr-synced-exclusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await to_permissions(app, pilot)
        await pilot.press("space", "tab", "space")
        await wait_for(pilot, lambda: app.flow.answers.mdr is not None
                       and app.flow.answers.mdr.access_levels == ("security_reader", "security_operator"))
        await pilot.press("ctrl+n")
        await reach(app, pilot, "mdr_exclusions")
        screen = app.screen
        await type_into(app, pilot, "#exclusions-user_groups", "Typed Group")
        await press_button(app, pilot, "#pick-groups")
        await wait_for(pilot, lambda: shown(app, GroupPickerDialog), timeout=10)
        text = screen_text(app)
        assert "Servers  (20 devices)" in text and "VIP Executives  (synced from on-premises" in text
        assert app.screen.query_one("#pick-user_groups-2", Checkbox).disabled  # the synced group
        await pilot.press("space", "escape")  # tick Servers, then Esc: nothing changes
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.query_one("#exclusions-device_groups", Input).value == ""
        assert app.flow.answers.confirmation("mdr_exclusions") is None
        await press_button(app, pilot, "#pick-groups")
        await wait_for(pilot, lambda: shown(app, GroupPickerDialog), timeout=10)
        dialog = app.screen
        await pilot.press("space", "tab", "tab", "space")  # Servers and IT Admins
        await press_button(app, pilot, "#picker-use")
        await wait_for(pilot, lambda: app.screen is not dialog)
        assert screen.query_one("#exclusions-device_groups", Input).value == "Servers"
        assert screen.query_one("#exclusions-user_groups", Input).value == "IT Admins, Typed Group"
        assert app.flow.answers.confirmation("mdr_exclusions") is None  # filled in, not recorded yet
        await pilot.press("enter")  # Record exclusions has the focus
        await wait_for(pilot, lambda: app.flow.answers.confirmation("mdr_exclusions") is not None)
        mdr = app.flow.answers.mdr
        assert mdr is not None and mdr.exclusion_user_groups == ("IT Admins", "Typed Group")
        await wait_for(pilot, lambda: not app.screen.watching and app.screen.rounds >= 1, timeout=10)
        assert "no Entra group named Typed Group" in app.results["exclusions.groups"].summary
