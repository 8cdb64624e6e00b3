"""Pilot tests of the wizard's fit to the terminal (issue 16 items 6-9): the review says each warning
once, the footer keeps Quit and Help and the header the step's name, dialogs keep their buttons on
screen, and focus never rests on a container that shows nothing focused."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button

from dex_tui.catalogue import catalogue
from screens.dialogs import SkipRoleDialog
from screens.textdump import screen_text
from tests.test_snap_support import STATE_DIR, Choices, resume, save_progress
from tests.test_wizard_support import make_app, reach, shown, wait_for


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_the_review_says_a_skipped_role_once_at_80x24(in_tmp: Path) -> None:
    save_progress("ready", "review", Choices(operator=False))
    app = make_app(STATE_DIR, "ready", no_wait=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await resume(app, pilot, "review")
        await wait_for(pilot, lambda: not app.checks_running, timeout=10)
        text = " ".join(screen_text(app).split())
        assert text.count("Security operator skipped") == 1


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
@pytest.mark.parametrize("step", ["signin", "license", "review"])
async def test_the_footer_keeps_quit_and_help_and_the_header_the_step_name(
        in_tmp: Path, step: str, size: tuple[int, int]) -> None:
    if step != "signin":
        save_progress("ready", step, Choices())
    app = make_app(STATE_DIR, "ready", no_wait=True, approval="on_demand" if step == "signin" else None)
    async with app.run_test(size=size) as pilot:
        if step == "signin":
            await reach(app, pilot, "welcome")
            await pilot.press("ctrl+n")
            await reach(app, pilot, "signin")
        else:
            await resume(app, pilot, step)
        await pilot.pause(0.2)
        lines = screen_text(app).splitlines()
        header, footer = lines[0], lines[-1]
        assert "^q Quit" in footer and ("f1 Help" in footer), footer
        assert app.screen.step.title in header, header  # type: ignore[attr-defined]


async def test_the_skip_dialog_keeps_its_title_and_buttons_on_a_60x20_screen(in_tmp: Path) -> None:
    save_progress("ready", "permissions", Choices())
    app = make_app(STATE_DIR, "ready", no_wait=True)
    async with app.run_test(size=(60, 20)) as pilot:
        await resume(app, pilot, "permissions")
        info = catalogue().role("security_operator")
        core = app.core
        app.push_screen(SkipRoleDialog(info.label, list(info.lost_actions or info.adds), "intro " * 60,
                                       today=core.today(),
                                       validate=lambda reason, expires: core.check_acknowledgement(
                                           None, reason, expires)))
        await wait_for(pilot, lambda: shown(app, SkipRoleDialog))
        await pilot.pause(0.2)
        screen = app.screen
        for button in screen.query(Button):
            region = button.region
            assert region.height > 0 and 0 <= region.y and region.bottom <= 20, (button.id, region)
            assert 0 <= region.x and region.right <= 60, (button.id, region)
        text = screen_text(app)
        assert "Skip Security operator?" in text and "Skip it" in text and "Grant Security operator" in text
        assert "Cancel" in text


@pytest.mark.parametrize("step", ["welcome", "permissions"])
async def test_tab_never_stops_on_a_container_of_welcome_or_permissions(in_tmp: Path, step: str) -> None:
    if step != "welcome":
        save_progress("ready", step, Choices())
    app = make_app(STATE_DIR, "ready", no_wait=True)
    async with app.run_test(size=(80, 24)) as pilot:
        if step == "welcome":
            await reach(app, pilot, "welcome")
        else:
            await resume(app, pilot, step)
        stops = []
        portal_shown = False
        for _ in range(8):
            await pilot.press("tab")
            await pilot.pause(0.05)
            stops.append(app.focused)
            if app.focused is not None and app.focused.id == "portal-path":
                portal_shown = "Then in the Microsoft Defender portal" in screen_text(app)
        assert all(w is not None and not str(w.id or "").endswith("-scroll") for w in stops), stops
        if step == "permissions":  # the portal path below the fold is a Tab stop that scrolls it into view
            assert portal_shown
