"""The wizard on the demo scenarios whose screens differ: errors in the one dialog, the operator
without admin roles, passive antivirus, GCC, cached accounts, and the skip dialog's guard."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.results import Status
from dex_tui.settings import Settings
from dex_tui.token_cache import TokenCacheStore
from screens.app import WizardApp
from screens.checks_view import CheckDetailDialog
from screens.choices import ChoiceList
from screens.dialogs import ErrorDialog, SkipRoleDialog
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, make_app, reach, shown, sign_in, wait_for


async def run_to_eligibility(app: WizardApp, pilot) -> None:
    await sign_in(app, pilot)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "eligibility")
    await wait_for(pilot, lambda: not app.checks_running and app.results, timeout=15)
    await pilot.pause()


async def test_ca_block_scenario_explains_and_offers_alternatives(state_dir: Path) -> None:
    app = make_app(state_dir, "ca-blocks-device-code")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        text = screen_text(app)
        assert "Conditional Access" in text and "AADSTS53003" in text
        assert "browser" in text  # the alternatives in the next step


async def test_a_403_shows_the_error_dialog_and_unknown_rows(state_dir: Path) -> None:
    app = make_app(state_dir, "ready", faults=[{"endpoint": "graph.caPolicies", "kind": "status", "status": 403,
                                                "count": 0}])
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=15)
        text = screen_text(app)
        assert "Some checks could not read your tenant" in text
        assert "Ctrl+P, then Re-run the checks" in app.screen.error.next_step  # r does nothing on Sign in
        await pilot.press("enter")
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        assert app.results["access.conditional_access"].status == Status.UNKNOWN
        assert app.results["license.mde_p2"].status == Status.PASS  # the other checks went on
        assert "? unknown" in screen_text(app)


async def test_network_down_is_one_dialog_not_a_crash(state_dir: Path) -> None:
    app = make_app(state_dir, "ready", no_wait=True, faults=[{"endpoint": "graph.*", "kind": "reset", "count": 0},
                                                             {"endpoint": "mde.*", "kind": "reset", "count": 0}])
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=30)
        assert "could not read your tenant" in screen_text(app)
        assert app.is_running


async def test_operator_without_admin_roles_is_warned(state_dir: Path) -> None:
    app = make_app(state_dir, "not-admin")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: "neither Security Administrator" in screen_text(app))


async def test_passive_antivirus_is_a_warning_with_evidence(state_dir: Path) -> None:
    app = make_app(state_dir, "passive-av")
    async with app.run_test(size=(80, 24)) as pilot:
        await run_to_eligibility(app, pilot)
        assert app.results["devices.av_mode"].status == Status.WARN
        table = app.screen.query_one("#checks")
        table.move_cursor(row=table.get_row_index("devices.av_mode"))
        await pilot.pause()
        assert "Defender Antivirus in active mode" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app, CheckDetailDialog))
        text = screen_text(app)
        assert "Evidence" in text and "passive" in text


async def test_xdr_in_gcc_is_a_blocker_and_hunting_is_offered(state_dir: Path) -> None:
    app = make_app(state_dir, "gcc")
    async with app.run_test(size=(80, 24)) as pilot:
        await run_to_eligibility(app, pilot)
        assert app.results["cloud.availability"].status == Status.FAIL
        assert "blocker" in screen_text(app)
        app.goto("welcome")
        await reach(app, pilot, "welcome")
        app.screen.query_one("#service", ChoiceList).value = "hunting"
        await pilot.pause()
        await pilot.press("ctrl+n")
        await reach(app, pilot, "signin")
        await wait_for(pilot, lambda: app.results.get("cloud.availability") is not None
                       and app.results["cloud.availability"].status == Status.PASS)


async def test_cached_account_is_offered_on_the_next_run(state_dir: Path) -> None:
    cache = TokenCacheStore("memory", None)
    cloud = FakeCloud(load_scenario("ready"))
    settings = Settings(demo="ready", state_dir=state_dir)
    first = WizardApp(settings, fake_cloud=cloud, cache_store=cache, clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW)
    async with first.run_test(size=(80, 24)) as pilot:
        await sign_in(first, pilot)
        await pilot.press("ctrl+c")
    second = WizardApp(settings, fake_cloud=cloud, cache_store=cache, clock=lambda: FROZEN_CLOCK,
                       now_iso=lambda: NOW)
    async with second.run_test(size=(80, 24)) as pilot:
        await reach(second, pilot, "signin")
        await wait_for(pilot, lambda: "Choose an account" in screen_text(second))
        assert "admin@contoso.onmicrosoft.com" in screen_text(second)
        await pilot.press("enter")
        await wait_for(pilot, lambda: second.session is not None, timeout=10)
        assert second.session.method == "cache"


async def test_skip_needs_the_box_ticked(state_dir: Path) -> None:
    app = make_app(state_dir, "fresh")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        app.goto("permissions")
        await reach(app, pilot, "permissions")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, SkipRoleDialog))
        app.screen.query_one("#skip-confirm").press()
        await pilot.pause()
        assert shown(app, SkipRoleDialog)
        assert "Tick the box first" in screen_text(app)
        assert isinstance(app.focused, Checkbox)
        assert app.flow.answers.roles["security_operator"] is None


async def test_command_palette_offers_the_main_actions(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles[:4] == ["Re-run the checks", "Export the report", "Help for this step", "Restart the wizard"]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"export")
        await wait_for(pilot, lambda: "Export the report" in screen_text(app))
