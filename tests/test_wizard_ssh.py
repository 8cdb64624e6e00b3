"""Guiding a customer over SSH (issue 20) and the sign-in step's failures and QR code (issue 16 items 11
and 15), in the wizard.

A remote session is faked at its one function (``dex_tui.desktop.remote_session``); the sessions of
the detector itself are tested on fake /proc and utmp data in tests/test_desktop.py.
"""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path
from typing import Any

import pytest
import segno
from textual.widgets import OptionList

import dex_tui.desktop
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls
from dex_tui.desktop import RemoteSession
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.dialogs import ErrorDialog, LinkDialog
from screens.help import HelpScreen
from screens.sign_in import SignInScreen
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, make_app, record_browser, shown, wait_for

SUDO_OVER_SSH = RemoteSession(True, "an ancestor process is sshd (pid 4100)")


def remote(monkeypatch: pytest.MonkeyPatch, session: RemoteSession) -> None:
    """This process's session, as the one function tells it; the environment is sudo's (no SSH_*
    variables, DISPLAY kept), with a graphical default browser that records what it is asked to open."""
    monkeypatch.setattr(dex_tui.desktop, "remote_session", lambda environ=None, platform=None: session)
    for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")


def flat(app: WizardApp) -> str:
    return " ".join(screen_text(app).split())


def problem_text(app: WizardApp) -> str:
    """What the step keeps saying about the failure (the widget's text, words joined)."""
    problem = app.screen.query_one("#signin-problem")
    assert problem.display
    return " ".join(str(problem.render()).split())


def footer_keys(app: WizardApp) -> set[str]:
    return {active.binding.description for active in app.screen.active_bindings.values()
            if active.enabled and active.binding.show}


def demo_app(state_dir: Path, controls: DemoControls, **kwargs: Any) -> WizardApp:
    """The wizard as ``dex-tui --demo`` builds it: browser rule left to the app (never in demo mode)."""
    return WizardApp(Settings(demo=controls.scenario_name, state_dir=state_dir), demo=controls,
                     clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW, **kwargs)


def paced(scenario: str = "ready", approval: str | None = None, after_polls: int | None = None) -> DemoControls:
    """The interactive demo's controls; ``after_polls`` shortens an automatic answer for the test."""
    controls = DemoControls.for_scenario(scenario, interactive=True, approval=approval)
    if after_polls is not None:
        controls.cloud.scenario = controls.cloud.scenario.with_knobs(device_code={"after_polls": after_polls})
    return controls


async def to_code(app: WizardApp, pilot: Any) -> None:
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "waiting", timeout=10)
    await pilot.pause()


# -- 20.1: the session itself says "remote", and both browser paths follow -----------------------------


async def test_sudo_over_ssh_offers_no_browser_and_opens_no_link(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    opened = record_browser(monkeypatch)
    app = WizardApp(Settings(state_dir=state_dir, token_cache="memory"))  # a real run's browser rule
    assert app.browser_allowed is False
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://security.microsoft.com/")
        await wait_for(pilot, lambda: shown(app, LinkDialog))
        assert "this is an SSH session (an ancestor process is sshd (pid 4100))" in app.screen.why
    assert opened == []
    auth = app.runtime.authenticator()
    policy = auth.browser_policy()
    assert not policy.allowed and policy.brief == "this is an SSH session"


async def test_a_link_whose_browser_fails_to_start_is_shown_with_why(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, RemoteSession(False))
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.BackgroundBrowser("false"))
    app = WizardApp(Settings(state_dir=state_dir, token_cache="memory"))
    assert app.browser_allowed is True
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://security.microsoft.com/")
        await wait_for(pilot, lambda: shown(app, LinkDialog), timeout=8)
        assert "No browser could be started here" in flat(app)


# -- 20.2: the demo shows what a real run here would ---------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_demo_over_ssh_shows_the_real_runs_reason(monkeypatch, state_dir: Path,
                                                           size: tuple[int, int]) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    opened = record_browser(monkeypatch)
    app = demo_app(state_dir, paced())
    async with app.run_test(size=size) as pilot:
        await to_code(app, pilot)  # no choice to make: straight to a code, as a real run over SSH
        assert "Browser sign-in is not offered: this is an SSH session." in flat(app)
        assert "Sign in with your browser" not in flat(app)
    assert opened == []


async def test_the_demo_on_a_desktop_rehearses_the_browser_sign_in_without_a_browser(monkeypatch,
                                                                                    state_dir: Path) -> None:
    remote(monkeypatch, RemoteSession(False))
    opened = record_browser(monkeypatch)
    app = demo_app(state_dir, paced())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "accounts", timeout=10)
        picker = app.screen.query_one("#accounts", OptionList)
        assert str(picker.get_option_at_index(0).prompt) == "Sign in with your browser (it opens on this desktop)"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.state == "browser", timeout=10)
        assert "Demo: a real run would now open this sign-in page in your browser" in flat(app)
        assert "https://login.demo.test/" in flat(app)
        assert "Open again" not in footer_keys(app) and "Approve" in footer_keys(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
    assert opened == []  # never a browser, not even the recording one


# -- 20.3: the demo's code waits for "a", and never gets an answer under a dialog ----------------------


async def test_the_demo_code_waits_for_a(state_dir: Path) -> None:
    controls = paced(after_polls=0)  # the scenario would approve at the first poll
    app = demo_app(state_dir, controls)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_code(app, pilot)
        assert "Demo: press a to act at the (fake) verification page." in flat(app)
        await asyncio.sleep(2.5)  # MSAL polls every second
        await pilot.pause()
        assert app.session is None and app.screen.state == "waiting"
        await pilot.press("a")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)


async def test_the_scenarios_own_answer_comes_on_a(state_dir: Path) -> None:
    app = demo_app(state_dir, paced("ca-blocks-device-code"))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_code(app, pilot)
        await asyncio.sleep(1.5)
        await pilot.pause()
        assert not shown(app, ErrorDialog)
        await pilot.press("a")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        assert "Blocked by Conditional Access" in flat(app)


async def test_auto_approval_never_happens_while_a_dialog_is_open(state_dir: Path) -> None:
    controls = paced(approval="auto", after_polls=1000)  # not before the test says so
    assert not controls.waits_for_operator
    app = demo_app(state_dir, controls)

    def token_polls() -> int:
        return sum(1 for method, _, path in controls.cloud.request_log if method == "POST" and path.endswith("/token"))

    async with app.run_test(size=(80, 24)) as pilot:
        await to_code(app, pilot)
        assert "Demo: approved by itself in a few seconds" in flat(app)
        await pilot.press("f1")
        await wait_for(pilot, lambda: shown(app, HelpScreen))
        # From now on the scenario approves at the next poll; only the open dialog holds it back.
        controls.cloud.scenario = controls.cloud.scenario.with_knobs(device_code={"after_polls": 0})
        polls = token_polls()
        await wait_for(pilot, lambda: token_polls() >= polls + 3, timeout=15)
        await pilot.pause()
        assert app.session is None, "the demo approved the code under the help dialog"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen))
        await wait_for(pilot, lambda: app.session is not None, timeout=10)


# -- 20.4, 20.5: copying either value, and nothing covers the code -----------------------------------------


async def test_c_and_l_copy_the_code_and_the_address_and_say_which(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    app = make_app(state_dir, "fresh", approval="on_demand")
    app.notifications_enabled = True
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await to_code(app, pilot)
        assert {"Copy code", "Copy link"} <= footer_keys(app)
        await pilot.press("c")
        assert app.clipboard == "DEMO-7315"
        await pilot.press("l")
        assert app.clipboard == "https://login.demo.test/devicelogin"
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Sent the code DEMO-7315 to your clipboard through the terminal (OSC 52).")
                   for m in messages), messages
        assert any(m.startswith("Sent the address https://login.demo.test/devicelogin to your clipboard")
                   for m in messages), messages
        assert all("A terminal may ignore OSC 52 (in tmux: set -g set-clipboard on)" in m for m in messages)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_where_no_browser_may_start_no_dialog_covers_the_code(monkeypatch, state_dir: Path,
                                                                   size: tuple[int, int]) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    app = make_app(state_dir, "fresh", approval="on_demand")
    async with app.run_test(size=size) as pilot:
        await to_code(app, pilot)
        assert "Open page" not in footer_keys(app)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, SignInScreen) and not shown(app, LinkDialog)
        text = flat(app)
        assert "https://login.demo.test/devicelogin" in text and "D E M O - 7 3 1 5" in text
        assert "Expires in 15:00" in text


async def test_on_a_desktop_o_opens_the_page(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, RemoteSession(False))
    opened = record_browser(monkeypatch)
    scenario = load_scenario("fresh").with_knobs(device_code={"approval": "on_demand"})
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=FakeCloud(scenario), browser=True,
                    clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "accounts", timeout=10)
        await pilot.press("down", "enter")  # the code, below the browser
        await wait_for(pilot, lambda: app.screen.state == "waiting", timeout=10)
        assert "Open page" in footer_keys(app)
        await pilot.press("o")
        await wait_for(pilot, lambda: opened == ["https://login.demo.test/devicelogin"])


# -- 16.15: the QR code of the address -----------------------------------------------------------------------


def drawn_modules(text: str) -> list[list[bool]]:
    """The dark modules the half-block characters draw (two rows per line)."""
    halves = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
    rows: list[list[bool]] = []
    for line in text.splitlines():
        rows += [[halves[ch][0] for ch in line], [halves[ch][1] for ch in line]]
    return rows


async def test_the_qr_code_shows_when_there_is_room_and_q_toggles_it(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    app = make_app(state_dir, "fresh", approval="on_demand")
    async with app.run_test(size=(120, 40)) as pilot:
        await to_code(app, pilot)
        qr = app.screen.query_one("#code-qr")
        assert qr.display
        drawn = drawn_modules(str(qr.render()))
        expected = [[bool(m) for m in row] for row in
                    segno.make("https://login.demo.test/devicelogin", micro=False).matrix_iter(scale=1, border=2)]
        assert drawn[:len(expected)] == expected  # the address only: the code is still typed
        keys = app.screen.query_one("#code-keys")
        assert "q hides the QR code" in str(keys.render())
        await pilot.press("q")
        await pilot.pause()
        assert not qr.display and "q shows a QR code of the address" in str(keys.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not qr.display  # the operator's choice stands

    app = make_app(state_dir, "fresh", approval="on_demand", restart=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_code(app, pilot)
        qr = app.screen.query_one("#code-qr")
        assert not qr.display  # no room
        await pilot.press("q")
        await pilot.pause()
        assert qr.display


# -- 16.11: after the error dialog, the cause and what works stay on the step -----------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_conditional_access_block_stays_explained_and_is_not_retried(monkeypatch, state_dir: Path,
                                                                            size: tuple[int, int]) -> None:
    remote(monkeypatch, SUDO_OVER_SSH)
    app = make_app(state_dir, "ca-blocks-device-code")
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen))
        await pilot.pause()
        assert "Blocked by Conditional Access. Microsoft Entra refused" in screen_text(app)  # on screen
        text = problem_text(app)
        assert "AADSTS53003" in text
        assert "What to do: Sign in another way" in text and "ssh -L 8400:localhost:8400" in text
        assert "The device code is not offered again on this step, since the policy refuses it" in text
        assert "Quit (Ctrl+Q), sign in as said above, and start dex-tui again" in text
        assert "Press n" not in flat(app) and "New code" not in footer_keys(app)
        codes = len(app.core.demo.cloud.tokens.device_codes)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.state == "stopped" and len(app.core.demo.cloud.tokens.device_codes) == codes


async def test_after_a_block_on_a_desktop_the_browser_is_offered_instead(monkeypatch, state_dir: Path) -> None:
    remote(monkeypatch, RemoteSession(False))
    record_browser(monkeypatch)
    scenario = load_scenario("ca-blocks-device-code")
    app = WizardApp(Settings(demo="ca-blocks-device-code", state_dir=state_dir), fake_cloud=FakeCloud(scenario),
                    browser=True, clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "accounts", timeout=10)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen))
        await pilot.pause()
        assert "Press b to sign in with the browser instead." in problem_text(app)
        assert "Press b for the browser" in flat(app)
        assert "Browser" in footer_keys(app) and "New code" not in footer_keys(app)
