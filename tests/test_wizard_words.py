"""The wizard speaks its own language (issue 16 item 13): no command-line advice where the Welcome step has
the field, "press r" only where r re-runs the checks, a command palette without Textual defaults that
contradict the app, and no "esc Back" on the first step."""

from __future__ import annotations

from pathlib import Path

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.dialogs import ConfirmDialog, ErrorDialog
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, make_app, reach, shown, sign_in, wait_for


async def test_the_palette_has_the_wizards_commands_only(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(app, pilot, "welcome")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles == ["Re-run the checks", "Export the report", "Help for this step", "Restart the wizard",
                          "Quit the wizard"]
        quit_command = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit the wizard")
        quit_command.callback()  # asks first, as Ctrl+Q does
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        assert app.return_value is None
        await pilot.press("escape")


async def test_the_first_step_offers_no_back_and_the_second_does(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await reach(app, pilot, "welcome")
        assert "esc Back" not in screen_text(app)
        await pilot.press("escape")  # nothing happens: still on Welcome
        await reach(app, pilot, "welcome")
        await pilot.press("ctrl+n")
        await reach(app, pilot, "signin")
        assert "esc Back" in screen_text(app)


async def test_the_cloud_hint_points_at_the_welcome_step_not_an_option(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
        detected = str(app.results["cloud.availability"].evidence)
        assert "choose the cloud on the Welcome step" in detected and "--cloud" not in detected
        assert "--cloud" not in str(app.core.build_report())


async def test_failed_reads_on_a_step_without_r_point_at_the_palette(state_dir: Path) -> None:
    scenario = load_scenario("ready").with_faults({"endpoint": "graph.subscribedSkus", "kind": "status",
                                                   "status": 403, "count": 0})
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), fake_cloud=FakeCloud(scenario, sleep=lambda s: None),
                    clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW, graph_options={"sleep": lambda s: None})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")  # the checks end while the Sign in step is shown: r does nothing there
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=15)
        said = app.screen.error.next_step
        assert "press r" not in said and "Ctrl+P, then Re-run the checks" in said
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        await pilot.press("r")  # on Eligibility r re-runs, and the same error says so
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=15)
        assert "press r to run the checks again" in app.screen.error.next_step
