"""How a step's screen is laid out (screens/base.py): not again for the size it already has; a real
resize still lays it out; the welcome starts at the top of its scroll, the focus on the service list."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import Screen

from screens.choices import ChoiceList
from screens.textdump import screen_text
from tests.test_wizard_support import make_app


def count_layouts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes of every full layout of any screen (``Screen._refresh_layout`` without ``scroll``)."""
    sizes: list[tuple[int, int]] = []
    original = Screen._refresh_layout

    def counted(self: Screen[object], size: Size | None = None, scroll: bool = False) -> None:
        original(self, size, scroll)
        if not scroll:
            sizes.append((self.outer_size.width, self.outer_size.height))

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return sizes


async def test_the_same_size_again_does_not_lay_the_step_out_again(state_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = count_layouts(monkeypatch)
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        laid_out = len(sizes)
        assert laid_out >= 1
        # What Textual sends a new app's first screen three times: the size it already has.
        app.screen.post_message(events.Resize(Size(80, 24), Size(80, 24)))
        await pilot.pause()
        assert len(sizes) == laid_out
        scroll = app.screen.query_one("#welcome-scroll", VerticalScroll)
        assert scroll.max_scroll_y > 0 and scroll.scroll_y == 0  # it scrolls at 80x24, and starts at the top
        assert app.screen.focused is app.screen.query_one("#service", ChoiceList)
        assert "Sign in, let the wizard check your tenant live" in screen_text(app)


async def test_a_real_resize_lays_the_step_out_again(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = count_layouts(monkeypatch)
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert (120, 40) in sizes
        header = screen_text(app).splitlines()[0]
        assert len(header) == 120 and header.strip().endswith("Step 1/8 · Welcome")
        scroll = app.screen.query_one("#welcome-scroll", VerticalScroll)
        assert scroll.max_scroll_y == 0  # everything fits at 120x40
        await pilot.resize_terminal(80, 24)  # and back: the size it was first laid out at
        await pilot.pause()
        assert sizes[-1] == (80, 24)
        assert app.screen.query_one("#welcome-scroll", VerticalScroll).max_scroll_y > 0
