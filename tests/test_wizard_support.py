"""Helpers for the wizard pilot tests (no tests here): building the app on a demo scenario and
waiting, with a bound, for what thread workers post."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.settings import Settings
from screens.app import WizardApp

NOW = "2026-11-24T10:00:00Z"
FROZEN_CLOCK = 1_800_000_000.0


def make_app(state_dir: Path, scenario: str = "ready", *, restart: bool = False, approval: str | None = None,
             no_wait: bool = False, **knobs: Any) -> WizardApp:
    """The wizard on a fresh fake tenant, with a frozen clock and timestamp (as the snapshots use);
    ``no_wait`` makes the Graph client retry without sleeping."""
    loaded = load_scenario(scenario)
    if approval is not None:
        loaded = loaded.with_knobs(device_code={"approval": approval})
    if knobs:
        loaded = loaded.with_knobs(**knobs)
    settings = Settings(demo=scenario, state_dir=state_dir)
    return WizardApp(settings, restart=restart, fake_cloud=FakeCloud(loaded), clock=lambda: FROZEN_CLOCK,
                     now_iso=lambda: NOW, graph_options={"sleep": lambda seconds: None} if no_wait else None)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition`` holds (thread workers post their messages meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.02)


async def sign_in(app: WizardApp, pilot: Pilot[Any]) -> None:
    """From the welcome step, sign in (the scenario approves the device code on the first poll)."""
    if app.flow.step == "welcome":
        await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: app.session is not None, timeout=10)
    await pilot.pause()


def on_step(app: WizardApp, step: str) -> bool:
    """The app shows ``step`` and its screen is composed (a freshly switched screen is not yet)."""
    screen = app.screen
    return getattr(screen, "STEP_ID", None) == step and screen.is_mounted and bool(screen.query("#next"))


async def reach(app: WizardApp, pilot: Pilot[Any], step: str, timeout: float = 5.0) -> None:
    await wait_for(pilot, lambda: on_step(app, step), timeout)
    await pilot.pause()


def shown(app: WizardApp, screen_type: type) -> bool:
    """A dialog of ``screen_type`` is on top and composed."""
    return isinstance(app.screen, screen_type) and app.screen.is_mounted


def record_browser(monkeypatch: Any) -> list[str]:
    """A graphical default browser (as ``webbrowser`` sees it) that records what it was asked to open
    instead of starting; a direct ``webbrowser.open`` (which could start a console browser) is recorded
    too. Returns the list of opened addresses."""
    import webbrowser

    opened: list[str] = []

    class Recording(webbrowser.BackgroundBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            opened.append(url)
            return True

    browser = Recording("recording-browser")
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: opened.append(url) or True)
    return opened
