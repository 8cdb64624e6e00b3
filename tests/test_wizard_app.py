"""Pilot tests of the wizard shell on the demo tenant: welcome, sign-in, terms, help, quitting,
progress, resume, errors and links."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from textual.widgets import Button, Input

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.choices import ChoiceList
from screens.dialogs import ConfirmDialog, ErrorDialog, LinkDialog
from screens.help import HelpScreen
from screens.textdump import screen_text
from tests.test_wizard_support import NOW, make_app, reach, record_browser, shown, sign_in, wait_for


async def test_welcome_shows_demo_banner_and_choices(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        text = screen_text(app)
        assert "Step 1/8 · Welcome" in text
        assert "DEMO MODE" in text and "'ready'" in text
        assert "Defender Experts for XDR" in text and "Defender Experts for Hunting" in text
        assert app.screen.query_one("#service", ChoiceList).value == "xdr"
        assert app.screen.query_one("#tenant", Input).cursor_blink is False
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.flow.step == "signin")


async def test_welcome_rejects_a_bad_tenant(state_dir: Path) -> None:
    app = WizardApp(Settings(state_dir=state_dir, token_cache="memory"), browser=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#tenant", Input).value = "not a tenant!"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.flow.step == "welcome"
        assert "neither a tenant ID" in screen_text(app)


async def test_choosing_hunting_shortens_the_flow(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")  # the service list has the focus, its cursor on XDR: Hunting
        assert app.screen.query_one("#service", ChoiceList).value == "hunting"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.flow.step == "signin")
        assert app.flow.answers.service == "hunting"
        assert "Step 2/8 · Sign in" in screen_text(app)


async def test_device_code_panel_countdown_copy_and_demo_approval(state_dir: Path) -> None:
    app = make_app(state_dir, scenario="fresh", approval="on_demand")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O - 7 3 1 5" in screen_text(app))
        text = screen_text(app)
        assert "https://login.demo.test/devicelogin" in text
        assert "Expires in 15:00" in text  # the frozen test clock: no wall clock on screen
        await pilot.press("c")
        assert app.clipboard == "DEMO-7315"
        await pilot.press("l")
        assert app.clipboard == "https://login.demo.test/devicelogin"
        await pilot.press("o")  # the demo starts no browser: no open key, no dialog over the code
        await pilot.pause()
        assert not shown(app, LinkDialog) and "D E M O - 7 3 1 5" in screen_text(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
        # The status line, the header and the identity block may land in separate frames: wait for the
        # identity block's last line (the directory roles), not for the name, which the header shows too.
        await wait_for(pilot, lambda: "Signed in" in screen_text(app)
                       and "Directory roles: Global Administrator" in screen_text(app))
        text = screen_text(app)
        assert "Megan Bowen" in text
        assert "neither Security Administrator" not in text


async def test_escape_cancels_a_pending_sign_in_quickly(state_dir: Path) -> None:
    app = make_app(state_dir, scenario="fresh", approval="on_demand")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Sign-in cancelled" in screen_text(app), timeout=3)
        assert app.flow.step == "signin" and app.session is None
        await pilot.press("n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app))


async def test_a_cancelled_sign_in_that_ends_late_does_not_undo_the_new_code(state_dir: Path, monkeypatch) -> None:
    """Esc, then n: the cancelled sign-in may notice its cancellation only after the new code is shown
    (its poll was in flight); what it says then must not hide the new code."""
    from dex_tui.auth import Authenticator, SignInCancelled

    new_code_shown, old_one_ended = threading.Event(), threading.Event()
    original = Authenticator.sign_in_with_device_code

    def slow_to_notice(self, show, is_cancelled=lambda: False, *args, **kwargs):
        try:
            return original(self, show, is_cancelled, *args, **kwargs)
        except SignInCancelled:
            new_code_shown.wait(10)
            old_one_ended.set()
            raise

    monkeypatch.setattr(Authenticator, "sign_in_with_device_code", slow_to_notice)
    app = make_app(state_dir, scenario="fresh", approval="on_demand")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Sign-in cancelled" in screen_text(app), timeout=3)
        await pilot.press("n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app), timeout=10)
        new_code_shown.set()
        await wait_for(pilot, old_one_ended.is_set)
        for _ in range(5):  # let whatever the old worker posted be handled
            await pilot.pause(0.05)
        text = screen_text(app)
        assert "D E M O" in text and "Waiting for you to sign in" in text and "Sign-in cancelled" not in text


async def test_conditional_access_block_opens_the_error_dialog(state_dir: Path) -> None:
    app = make_app(state_dir, scenario="fresh", approval="ca_block")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        text = screen_text(app)
        assert "Blocked by Conditional Access" in text
        assert "What to do" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        # The cause stays on the step, and the flow the policy blocks is not offered again (issue 16 item 11).
        text = screen_text(app)
        assert "Blocked by Conditional Access." in text and "Press Esc to go back." in text
        assert "Press n" not in text
        assert app.session is None


async def test_terms_accept_only_after_scrolling_and_recorded(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        app.goto("terms")
        await reach(app, pilot, "terms")
        accept = app.screen.query_one("#accept", Button)
        assert accept.disabled
        assert app.screen.query_one("#next", Button).disabled
        await pilot.press("end")
        await wait_for(pilot, lambda: not accept.disabled)
        accept.press()
        await wait_for(pilot, lambda: app.flow.answers.terms is not None)
        assert app.flow.answers.terms.by == "admin@contoso.onmicrosoft.com"
        assert app.flow.answers.terms.at == NOW
        assert "Accepted by admin@contoso.onmicrosoft.com" in screen_text(app)
        records = app.core.audit.read()
        assert [r["event"] for r in records] == ["terms_accepted"]
        assert records[0]["tenant_id"] == "8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13"


async def test_terms_fit_at_120x40_still_need_the_end(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(app, pilot)
        app.goto("terms")
        await reach(app, pilot, "terms")
        await pilot.press("end")
        await wait_for(pilot, lambda: not app.screen.query_one("#accept", Button).disabled)
        assert "Product Terms" in screen_text(app)


async def test_help_opens_for_the_current_step(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: shown(app, HelpScreen))
        assert "Help: Welcome" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: shown(app, HelpScreen))


async def test_quit_asks_first_and_keeps_progress(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.flow.step == "signin")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        await pilot.press("escape")  # stay
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        app.screen.query_one("#confirm-yes", Button).press()
        await pilot.pause()
    assert app.return_value == 0
    saved = json.loads((state_dir / "progress" / "demo-ready.json").read_text())
    assert saved["step"] == "signin"


async def test_the_demo_quit_dialog_names_the_command_that_resumes(state_dir: Path) -> None:
    app = make_app(state_dir, scenario="fresh")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        assert f"Run dex-tui --demo fresh --state-dir {state_dir} to continue" in app.screen.question
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))


async def test_ctrl_c_saves_and_exits_130(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_value == 130
    assert (state_dir / "progress" / "demo-ready.json").exists()


async def test_resume_after_sign_in_and_restart(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        app.goto("terms")
        await reach(app, pilot, "terms")
        await pilot.press("ctrl+c")
    again = make_app(state_dir)
    async with again.run_test(size=(80, 24)) as pilot:
        await reach(again, pilot, "signin")
        assert "you were on 'Terms'" in screen_text(again)
        await wait_for(pilot, lambda: again.session is not None, timeout=10)
        assert again.screen.query_one("#next", Button).label.plain.startswith("Continue")
        await pilot.press("ctrl+n")
        await reach(again, pilot, "terms")
    fresh = make_app(state_dir, restart=True)
    async with fresh.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert fresh.screen.STEP_ID == "welcome"
        assert "you were on" not in screen_text(fresh)
    assert not (state_dir / "progress" / "demo-ready.json").exists()
    assert fresh.core.audit.read()[-1]["event"] == "progress_restarted"


async def test_corrupt_progress_is_set_aside_with_a_notice(state_dir: Path) -> None:
    progress = state_dir / "progress"
    progress.mkdir()
    (progress / "demo-ready.json").write_text("{broken")
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "could not be used" in text and "starting over" in text
        assert app.flow.step == "welcome"
    assert list(progress.glob("demo-ready.json.set-aside-*"))


async def test_links_outside_the_allowlist_are_refused(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://evil.example.com/phish")
        await wait_for(pilot, lambda: shown(app, ErrorDialog))
        assert "not opened" in screen_text(app)
        await pilot.press("escape")
        app.open_url("https://security.microsoft.com/")
        await wait_for(pilot, lambda: shown(app, LinkDialog))
        await pilot.press("c")
        assert app.clipboard == "https://security.microsoft.com/"


async def test_no_browser_over_ssh(monkeypatch, state_dir: Path) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    monkeypatch.setenv("DISPLAY", ":0")
    opened = record_browser(monkeypatch)
    app = WizardApp(Settings(state_dir=state_dir, token_cache="memory"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://security.microsoft.com/")
        await wait_for(pilot, lambda: shown(app, LinkDialog))
        assert "SSH" in screen_text(app)
    assert opened == []


def test_demo_cloud_knobs_are_not_shared_between_apps(state_dir: Path) -> None:
    first = FakeCloud(load_scenario("ready"))
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), fake_cloud=first)
    assert app.core.demo.cloud is first
    assert app.core.now_iso() == first.scenario.now


async def test_quitting_during_a_pending_sign_in_does_not_hang(state_dir: Path) -> None:
    import time

    app = make_app(state_dir, scenario="fresh", approval="on_demand")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app))
        started = time.monotonic()
        await pilot.press("ctrl+c")
    assert time.monotonic() - started < 3.0  # the device-code poll stops within about a second
    assert app.return_value == 130


async def test_role_decisions_are_audited_when_made(state_dir: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        app.decide_role("security_operator", False)
        app.decide_role("security_operator", False)  # no change: nothing new recorded
        app.decide_role("security_operator", True)
        await pilot.press("ctrl+c")  # quitting before Next keeps what was decided
    events = [(r["event"], r["role"]) for r in app.core.audit.read()]
    assert events == [("role_skipped", "security_operator"), ("role_granted", "security_operator")]
    assert app.core.audit.read()[0]["acknowledged_by"] == "admin@contoso.onmicrosoft.com"
    saved = json.loads((state_dir / "progress" / "demo-ready.json").read_text())
    assert saved["answers"]["roles"] == {"security_operator": True}
    assert saved["answers"]["acknowledgements"] == {}


async def test_device_code_countdown_runs_on_the_apps_clock_not_msals_wall_clock_stamp(
        state_dir: Path, monkeypatch) -> None:
    import time as time_module

    now = [1_800_000_000.0]
    loaded = load_scenario("fresh").with_knobs(device_code={"approval": "on_demand"})
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=FakeCloud(loaded),
                    clock=lambda: now[0], now_iso=lambda: NOW)
    real_time = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real_time() - 3600)  # a wall clock an hour behind
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O - 7 3 1 5" in screen_text(app))
        await wait_for(pilot, lambda: "Expires in 15:00" in screen_text(app))
        now[0] += 61
        await wait_for(pilot, lambda: "Expires in 13:59" in screen_text(app), timeout=3)
        await pilot.press("ctrl+c")
