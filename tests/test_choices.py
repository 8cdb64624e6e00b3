"""The light choice widgets (screens/choices.py) and header (screens/chrome.py): keys, clicks, the
Changed message, and a state that reads without colour."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from screens.choices import ChoiceList, ChoicePicker
from screens.chrome import StepHeader
from screens.textdump import screen_text

SERVICES = [("Managed detection and response", "mdr"), ("Extended detection", "xdr"), ("Hunting", "hunting")]
CLOUDS = [("Detect", "detect"), ("Commercial", "commercial"), ("GCC", "gcc")]


class ChoicesApp(App[None]):
    TITLE = "Defender Experts · DEMO ready"

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield StepHeader()
        yield ChoiceList(SERVICES, value="xdr", id="service")
        yield ChoicePicker(CLOUDS, id="cloud")
        yield Input(id="after")

    def on_mount(self) -> None:
        self.screen.sub_title = "Step 1/8 · Welcome"
        self.query_one("#service").focus()

    def on_choice_widget_changed(self, event: ChoiceList.Changed) -> None:
        self.changes.append((event.control.id or "", event.value))


def lines(app: App[Any]) -> list[str]:
    return screen_text(app).splitlines()


async def test_arrows_move_the_cursor_and_enter_or_space_choose() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        service = app.query_one("#service", ChoiceList)
        await pilot.press("down")
        assert (service.cursor, service.value) == (2, "xdr")  # moving chooses nothing
        assert app.changes == []
        await pilot.press("enter")
        assert service.value == "hunting"
        await pilot.press("down", "space")  # past the last option: back to the first
        assert service.value == "mdr"
        await pilot.press("up", "enter")
        assert service.value == "hunting"
        await pilot.pause()
        assert app.changes == [("service", "hunting"), ("service", "mdr"), ("service", "hunting")]


async def test_the_chosen_option_alone_is_marked_so_it_reads_without_colour() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        shown = lines(app)
        assert "▐ ▌ Managed detection and response" in shown[1]
        assert "▐●▌ Extended detection" in shown[2]
        assert "▐ ▌ Hunting" in shown[3]
        app.query_one("#service", ChoiceList).value = "mdr"  # set by the code: drawn and announced too
        await pilot.pause()
        shown = lines(app)
        assert "▐●▌ Managed detection and response" in shown[1] and "▐ ▌ Extended detection" in shown[2]
        assert app.changes == [("service", "mdr")]


async def test_a_click_chooses_the_option_clicked() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.click("#service", offset=(6, 2))
        service = app.query_one("#service", ChoiceList)
        assert (service.value, service.cursor) == ("hunting", 2)
        await pilot.click("#service", offset=(6, 0))
        assert service.value == "mdr"


async def test_a_value_that_is_not_an_option_is_refused() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)):
        with pytest.raises(ValueError, match="not one of the options"):
            app.query_one("#service", ChoiceList).value = "sentinel"
        assert app.query_one("#service", ChoiceList).value == "xdr"
    with pytest.raises(ValueError, match="not one of the options"):
        ChoiceList(SERVICES, value="sentinel")
    with pytest.raises(ValueError, match="at least one option"):
        ChoicePicker([])


async def test_the_picker_steps_with_left_and_right_and_says_where_it_is() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        cloud = app.query_one("#cloud", ChoicePicker)
        assert cloud.value == "detect"  # no value given: the first option
        assert "◀ Detect     ▶  1/3  ←/→" in lines(app)[4]
        await pilot.press("tab", "right", "right")
        assert cloud.has_focus and cloud.value == "gcc"
        assert "◀ GCC        ▶  3/3  ←/→" in lines(app)[4]
        await pilot.press("right")  # past the last: the first again
        assert cloud.value == "detect"
        await pilot.press("left")
        assert cloud.value == "gcc"
        await pilot.pause()
        assert app.changes == [("cloud", "commercial"), ("cloud", "gcc"), ("cloud", "detect"), ("cloud", "gcc")]


async def test_a_click_on_the_left_arrow_steps_back_anywhere_else_on() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(60, 10)) as pilot:
        cloud = app.query_one("#cloud", ChoicePicker)
        await pilot.click("#cloud", offset=(14, 0))
        assert cloud.value == "commercial" and cloud.has_focus
        await pilot.click("#cloud", offset=(0, 0))
        assert cloud.value == "detect"


@pytest.mark.parametrize(("width", "expected"), [
    (80, "Defender Experts · DEMO ready — Step 1/8 · Welcome"),
    (50, "DEMO ready — Step 1/8 · Welcome"),  # the product name goes first
    (36, "Step 1/8 · Welcome"),  # then the scenario, never the step
])
async def test_the_header_keeps_the_step_on_a_narrow_terminal(width: int, expected: str) -> None:
    app = ChoicesApp()
    async with app.run_test(size=(width, 10)) as pilot:
        await pilot.pause()
        header = lines(app)[0]
        assert header.startswith(" ≡") and header.strip().removeprefix("≡").strip() == expected
        assert len(header) <= width


async def test_a_click_on_the_header_icon_opens_the_command_palette() -> None:
    app = ChoicesApp()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.click(StepHeader, offset=(20, 0))  # the title: nothing
        assert not app.screen.is_modal
        await pilot.click(StepHeader, offset=(1, 0))
        await pilot.pause()
        assert type(app.screen).__name__ == "CommandPalette"
