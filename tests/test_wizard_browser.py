"""The wizard's browser sign-in choice: offered only on a local desktop with a graphical browser, run in a
worker, cancellable, showing the page's address; and the one line that says why it is not offered.
Also the sign-in step riding out a busy identity provider.

The "browser" is simulated: a graphical browser (as ``webbrowser`` sees it) with a person at it, who
follows the sign-in page against the fake cloud's authorize endpoint and posts its form to the
loopback redirect, as Entra's ``form_post`` page would.
"""

from __future__ import annotations

import html
import re
import socket
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from textual.widgets import OptionList

import dex_tui.signin_retry
from dex_tui.auth import BrowserPolicy, RetryPolicy
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo.testing import demo_session
from dex_tui.settings import Settings
from dex_tui.token_cache import TokenCacheStore
from screens.app import WizardApp
from screens.dialogs import ErrorDialog
from screens.sign_in import BROWSER_TURNED_OFF, browser_offer, not_offered_line
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, make_app, reach, shown, wait_for


def visit(cloud: FakeCloud, url: str) -> threading.Thread:
    """A person at a browser: open the sign-in page (the fake answers with Entra's auto-submitting
    form), then submit it to the loopback redirect. Runs in a thread, as a browser would."""

    def go() -> None:
        page = demo_session(cloud).get(url, allow_redirects=False)
        with requests.Session() as plain:
            plain.trust_env = False  # no proxy for the loopback address
            if page.status_code == 302:
                plain.get(page.headers["Location"], timeout=5)
                return
            action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))
            fields = {html.unescape(k): html.unescape(v)
                      for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
            plain.post(action, data=fields, timeout=5)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


class SimulatedBrowser(webbrowser.BackgroundBrowser):
    """A graphical browser (never a console one): records what it was asked to open; ``follow`` signs
    in at once, ``works=False`` is a browser that fails to start."""

    def __init__(self, cloud: FakeCloud, *, follow: bool = True, works: bool = True) -> None:
        super().__init__("simulated-browser")
        self.cloud = cloud
        self.follow = follow
        self.works = works
        self.opened: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        if self.works and self.follow:
            visit(self.cloud, url)
        return self.works


def desktop(monkeypatch: pytest.MonkeyPatch, browser: webbrowser.BaseBrowser, *, ssh: bool = False) -> None:
    """A local graphical desktop whose default browser is ``browser`` (or the same over SSH)."""
    for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    if ssh:
        monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)


def cloud_for(scenario: str = "ready", *faults: dict[str, Any], **knobs: Any) -> FakeCloud:
    loaded = load_scenario(scenario)
    if knobs:
        loaded = loaded.with_knobs(**knobs)
    if faults:
        loaded = loaded.with_faults(*faults)
    return FakeCloud(loaded)


def browser_app(state_dir: Path, cloud: FakeCloud, **kwargs: Any) -> WizardApp:
    """The wizard on the fake tenant, allowed to start a browser (the demo alone never does)."""
    return WizardApp(Settings(demo=cloud.scenario.name, state_dir=state_dir), fake_cloud=cloud, browser=True,
                     clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW, **kwargs)


def listening(port: int | None) -> bool:
    """Whether something accepts connections on the loopback port (the sign-in's redirect listener)."""
    try:
        socket.create_connection(("127.0.0.1", port or 0), timeout=0.5).close()
    except OSError:
        return False
    return True


def flat(app: WizardApp) -> str:
    """The screen's text with line breaks and runs of spaces made one space (wrapped sentences joined)."""
    return " ".join(screen_text(app).split())


def footer_keys(app: WizardApp) -> set[str]:
    return {active.binding.description for active in app.screen.active_bindings.values() if active.enabled}


async def to_choices(app: WizardApp, pilot: Any) -> None:
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "accounts", timeout=10)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Pauses before sign-in tries again, recorded instead of waited."""
    recorded: list[float] = []
    monkeypatch.setattr(dex_tui.signin_retry, "DEFAULT_RETRY_POLICY", RetryPolicy(sleep=recorded.append))
    return recorded


# -- offered on a local desktop --------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_browser_choice_signs_in_and_goes_on_like_the_device_code(monkeypatch, state_dir: Path,
                                                                       size: tuple[int, int]) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud)
    desktop(monkeypatch, browser)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=size) as pilot:
        await to_choices(app, pilot)
        text = screen_text(app)
        assert "How do you want to sign in?" in text
        assert "Sign in with your browser (it opens on this desktop)" in text
        assert "Sign in with a code (enter it on any device)" in text
        assert "not offered" not in text
        picker = app.screen.query_one("#accounts", OptionList)
        assert picker.has_focus and picker.highlighted == 0  # the browser first, Enter takes it
        assert {"New code", "Browser"} <= footer_keys(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
        await wait_for(pilot, lambda: "Signed in" in screen_text(app))
        text = screen_text(app)
        assert "Megan Bowen" in text and "Global Administrator" in text
        assert "neither Security Administrator" not in text
        assert app.session.method == "browser"
        assert len(browser.opened) == 1 and "code_challenge_method=S256" in browser.opened[0]
        assert cloud.tokens.device_codes == {}  # no device code was asked for
        assert app.core.checker is not None  # the checks started, as after a device code
        await pilot.press("enter")
        await reach(app, pilot, "eligibility")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_page_address_is_shown_copied_and_used(monkeypatch, state_dir: Path,
                                                        size: tuple[int, int]) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud, follow=False)  # the browser opens, the person has not signed in yet
    desktop(monkeypatch, browser)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=size) as pilot:
        await to_choices(app, pilot)
        await pilot.press("b")  # the key works as well as the list
        await wait_for(pilot, lambda: app.screen.state == "browser", timeout=10)
        text = screen_text(app)
        assert "A browser was started with the Microsoft sign-in page" in text
        assert "https://login.demo.test/" in text and "authorize?" in text
        assert "c copies the address · o opens it again" in text  # visible, not scrolled away
        assert "Esc cancels" in text
        assert {"Copy address", "Open again"} <= footer_keys(app)
        assert "Copy code" not in footer_keys(app)
        await pilot.press("c")
        assert app.clipboard == browser.opened[0]
        await pilot.press("o")
        await wait_for(pilot, lambda: len(browser.opened) == 2)
        assert browser.opened[1] == browser.opened[0]
        visit(cloud, browser.opened[0])
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
        assert app.session.method == "browser"


async def test_a_browser_that_does_not_start_leaves_the_address_to_open(monkeypatch, state_dir: Path) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud, works=False)
    desktop(monkeypatch, browser)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.state == "browser", timeout=10)
        assert "No browser could be started here. Open this address" in flat(app)
        visit(cloud, browser.opened[0])
        await wait_for(pilot, lambda: app.session is not None, timeout=10)


async def test_escape_cancels_the_browser_sign_in_within_a_second(monkeypatch, state_dir: Path) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud, follow=False)
    desktop(monkeypatch, browser)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.state == "browser", timeout=10)
        port = urlsplit(parse_qs(urlsplit(browser.opened[0]).query)["redirect_uri"][0]).port
        assert listening(port)
        started = time.monotonic()
        await pilot.press("escape")
        assert "Sign-in cancelled. Press n for a new code, b for the browser, or Esc to go back." in flat(app)
        await wait_for(pilot, lambda: not listening(port), timeout=3)  # the worker let go of the port
        assert time.monotonic() - started < 1.5
        assert app.flow.step == "signin" and app.session is None
        await pilot.press("b")
        await wait_for(pilot, lambda: len(browser.opened) == 2 and app.screen.state == "browser", timeout=10)


async def test_quitting_during_the_browser_sign_in_does_not_hang(monkeypatch, state_dir: Path) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud, follow=False)
    desktop(monkeypatch, browser)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.state == "browser", timeout=10)
        started = time.monotonic()
        await pilot.press("ctrl+c")
    assert time.monotonic() - started < 3.0
    assert app.return_value == 130


async def test_a_declined_browser_sign_in_opens_the_error_dialog(monkeypatch, state_dir: Path) -> None:
    cloud = cloud_for(device_code={"approval": "decline"})
    desktop(monkeypatch, SimulatedBrowser(cloud))
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        text = screen_text(app)
        assert "Sign-in declined" in text and "What to do" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        assert "Press n to try again with a code, or b for the browser." in flat(app)
        assert app.session is None


async def test_without_an_admin_role_the_warning_follows_a_browser_sign_in(monkeypatch, state_dir: Path) -> None:
    cloud = cloud_for("not-admin")
    desktop(monkeypatch, SimulatedBrowser(cloud))
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
        await wait_for(pilot, lambda: "neither Security Administrator nor Global Administrator" in screen_text(app))


async def test_remembered_accounts_come_first_and_the_browser_is_reachable_by_keys(monkeypatch,
                                                                                  state_dir: Path) -> None:
    cloud = cloud_for()
    browser = SimulatedBrowser(cloud)
    desktop(monkeypatch, browser)
    store = TokenCacheStore("memory", None)  # shared by two runs, as a keyring-backed cache would be
    first = browser_app(state_dir, cloud, cache_store=store, restart=True)
    async with first.run_test(size=(80, 24)) as pilot:
        await to_choices(first, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: first.session is not None, timeout=10)
    second = browser_app(state_dir, cloud, cache_store=store, restart=True)
    async with second.run_test(size=(80, 24)) as pilot:
        await to_choices(second, pilot)
        text = screen_text(second)
        assert "admin@contoso.onmicrosoft.com" in text
        assert "Sign in with your browser (another account)" in text
        assert "Sign in with a new code (another account)" in text
        await pilot.press("down", "enter")  # the second entry: the browser
        await wait_for(pilot, lambda: second.session is not None, timeout=10)
        assert second.session.method == "browser" and len(browser.opened) == 2


# -- not offered, and why, in one line ---------------------------------------------------------------


def _line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line).strip()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_over_ssh_the_browser_is_not_offered_and_the_step_says_why(monkeypatch, state_dir: Path,
                                                                        size: tuple[int, int]) -> None:
    cloud = cloud_for(device_code={"approval": "on_demand"})
    browser = SimulatedBrowser(cloud)
    desktop(monkeypatch, browser, ssh=True)
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app), timeout=10)  # straight to a device code
        text = screen_text(app)
        assert _line_with(text, "not offered") == "Browser sign-in is not offered: this is an SSH session."
        assert "Sign in with your browser" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.state == "stopped", timeout=3)
        assert "Browser" not in footer_keys(app)
        await pilot.press("b")
        await pilot.pause()
        assert app.screen.state == "stopped" and "b for the browser" not in screen_text(app)
    assert browser.opened == []


async def test_the_demo_says_what_a_real_run_in_this_terminal_would(monkeypatch, state_dir: Path) -> None:
    """Over SSH the demo gives the same reason a real run would (it used to say "this is the demo")."""
    desktop(monkeypatch, SimulatedBrowser(cloud_for()), ssh=True)
    app = make_app(state_dir, approval="on_demand")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app), timeout=10)
        assert _line_with(screen_text(app), "not offered") == "Browser sign-in is not offered: this is an SSH session."


async def test_a_console_browser_is_never_offered_nor_started(monkeypatch, state_dir: Path) -> None:
    started: list[str] = []

    class Lynx(webbrowser.GenericBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            started.append(url)
            return True

    lynx = Lynx("lynx")
    lynx.__class__ = webbrowser.GenericBrowser  # what webbrowser registers for lynx or w3m
    monkeypatch.setattr(webbrowser.GenericBrowser, "open", Lynx.open)
    desktop(monkeypatch, lynx)
    app = browser_app(state_dir, cloud_for(device_code={"approval": "on_demand"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app), timeout=10)
        assert _line_with(screen_text(app), "not offered") == \
            "Browser sign-in is not offered: the only browser found runs in the terminal."
    assert started == []


def test_browser_offer_follows_the_core_policy_the_demo_and_the_app() -> None:
    allowed = BrowserPolicy(True, "the browser 'firefox' opens on this desktop")
    ssh = BrowserPolicy(False, "this is an SSH session: ...", "this is an SSH session")
    asked: list[bool] = []

    def policy_of(policy: BrowserPolicy):
        return lambda: asked.append(True) or policy

    assert browser_offer(policy_of(allowed), demo=False, browser_allowed=True) is allowed
    assert browser_offer(policy_of(ssh), demo=False, browser_allowed=True) is ssh
    assert not browser_offer(policy_of(allowed), demo=False, browser_allowed=False).allowed
    assert browser_offer(policy_of(allowed), demo=False, browser_allowed=False) is BROWSER_TURNED_OFF
    # The demo answers as a real run here would (it then rehearses without starting a browser).
    assert browser_offer(policy_of(allowed), demo=True, browser_allowed=False) is allowed
    assert browser_offer(policy_of(ssh), demo=True, browser_allowed=False) is ssh
    assert browser_offer(policy_of(allowed), demo=True, browser_allowed=True) is allowed
    assert not_offered_line(allowed) == ""
    assert not_offered_line(ssh) == "Browser sign-in is not offered: this is an SSH session."


# -- a busy identity provider -------------------------------------------------------------------------


async def test_a_busy_device_code_endpoint_is_retried_and_the_wait_is_shown(monkeypatch, state_dir: Path) -> None:
    release = threading.Event()
    paused: list[float] = []

    def pause(seconds: float) -> None:  # hold the retry until the test has looked at the screen
        paused.append(seconds)
        release.wait(5)

    monkeypatch.setattr(dex_tui.signin_retry, "DEFAULT_RETRY_POLICY", RetryPolicy(sleep=pause))
    cloud = cloud_for("fresh", {"endpoint": "login.devicecode", "kind": "status", "status": 503, "count": 1},
                      device_code={"approval": "on_demand"})
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=cloud, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "trying again" in flat(app), timeout=10)
        assert "login.demo.test answered HTTP 503 while asking for a sign-in code; trying again in 1 second " \
               "(try 2 of 4). Esc cancels." in flat(app)
        release.set()
        await wait_for(pilot, lambda: "D E M O" in screen_text(app), timeout=10)
    assert paused == [1.0]


async def test_a_provider_that_stays_busy_ends_in_the_error_dialog(waits, state_dir: Path) -> None:
    cloud = cloud_for("fresh", {"endpoint": "login.token", "kind": "status", "status": 503, "count": 0})
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=cloud, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        text = flat(app)
        assert "Sign-in service unavailable" in text and "kept answering HTTP 503" in text
        assert "What to do" in text
    assert waits == [1.0, 2.0, 4.0]


async def test_a_busy_token_endpoint_after_the_browser_is_retried(monkeypatch, waits, state_dir: Path) -> None:
    cloud = cloud_for("ready", {"endpoint": "login.token", "kind": "status", "status": 502, "count": 1})
    desktop(monkeypatch, SimulatedBrowser(cloud))
    app = browser_app(state_dir, cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_choices(app, pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
    assert app.session.method == "browser" and waits == [1.0]
