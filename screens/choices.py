"""Choices drawn by one widget each: a list of exclusive options (``ChoiceList``) and a one-line
picker that steps through options with the arrow keys (``ChoicePicker``).

They take the place of Textual's RadioSet and Select on the wizard's first screen, which mount a
widget per option (RadioSet) or a drop-down overlay with its own option list (Select) before the
first frame. Here each choice is one widget that draws its options itself, so the first screen
shows sooner. Like the wizard's tick boxes (screens/toggles.py), the chosen option's mark is drawn
only on the chosen one, so the state reads without colour (``NO_COLOR``, a plain-text capture).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from screens.toggles import toggle_mark

Option = tuple[str, str]  # (label, value)

MARK = ("▐", "●", "▌")  # Textual's radio button: left, inside when chosen, right


class ChoiceWidget(Widget, can_focus=True):
    """What both widgets share: the options, the chosen value and the message that it changed."""

    value: reactive[str] = reactive("", init=False, always_update=False)

    class Changed(Message):
        """The chosen value changed (by a key, a click or the code setting ``value``)."""

        def __init__(self, choices: ChoiceWidget, value: str) -> None:
            super().__init__()
            self.choices = choices
            self.value = value

        @property
        def control(self) -> ChoiceWidget:
            return self.choices

    def __init__(self, options: Sequence[Option], value: str | None = None, *, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        if not options:
            raise ValueError("a choice needs at least one option")
        super().__init__(id=id, classes=classes, disabled=disabled)
        self.options: tuple[Option, ...] = tuple(options)
        self._values = [option_value for _, option_value in self.options]
        self.set_reactive(ChoiceWidget.value, self.validate_value(self._values[0] if value is None else value))

    @property
    def index(self) -> int:
        """The chosen option's position."""
        return self._values.index(self.value)

    def validate_value(self, value: str) -> str:
        if value not in self._values:
            raise ValueError(f"{value!r} is not one of the options {self._values}")
        return value

    def watch_value(self) -> None:
        self.post_message(self.Changed(self, self.value))


class ChoiceList(ChoiceWidget):
    """Exclusive options, one per line, the chosen one marked. Up/Down move the cursor, Enter or
    Space chooses the option under it (as in Textual's RadioSet); a click chooses the option clicked."""

    ALLOW_SELECT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,right", "move(1)", "Next option", show=False),
        Binding("up,left", "move(-1)", "Previous option", show=False),
        Binding("enter,space", "choose", "Choose", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"choice-list--mark", "choice-list--mark-on", "choice-list--cursor"}
    DEFAULT_CSS = """
    ChoiceList {
        height: auto;
        width: 1fr;
        background: $surface;
        pointer: pointer;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        & > .choice-list--mark { color: $panel-darken-2; background: $panel; }
        & > .choice-list--mark-on { color: $text-success; background: $panel; }
        & > .choice-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .choice-list--cursor {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        &:ansi {
            background: ansi_default;
            & > .choice-list--mark { background: $ansi-background; color: $ansi-foreground; text-style: dim; }
            & > .choice-list--mark-on { color: $accent; background: $ansi-background; text-style: bold not dim; }
        }
    }
    """

    cursor: reactive[int] = reactive(0, init=False)

    def __init__(self, options: Sequence[Option], value: str | None = None, *, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(options, value, id=id, classes=classes, disabled=disabled)
        self.set_reactive(ChoiceList.cursor, self.index)

    def validate_cursor(self, cursor: int) -> int:
        return cursor % len(self.options)

    def action_move(self, step: int) -> None:
        self.cursor += step

    def action_choose(self) -> None:
        self.value = self._values[self.cursor]

    def watch_value(self) -> None:
        self.cursor = self.index
        super().watch_value()

    def on_click(self, event: events.Click) -> None:
        line = event.y
        if 0 <= line < len(self.options):
            self.cursor = line
            self.value = self._values[line]

    def render(self) -> Content:
        surface = self.background_colors[1]
        lines = []
        for number, (label, option_value) in enumerate(self.options):
            on = option_value == self.value
            mark = self.get_visual_style("choice-list--mark-on" if on else "choice-list--mark")
            text = Content(label)
            if number == self.cursor:
                text = text.stylize(self.get_visual_style("choice-list--cursor"))
            lines.append(Content.assemble(toggle_mark(*MARK, on, mark, surface), " ", text))
        return Content("\n").join(lines)


class ChoicePicker(ChoiceWidget):
    """One option shown at a time on one line (``◀ Commercial ▶  2/6  ←/→``): Left/Right step through
    the options, a click on ◀ or ▶ steps back or on. It takes a line where a list would take one per
    option, and needs no drop-down."""

    ALLOW_SELECT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "step(1)", "Next option", show=False),
        Binding("left", "step(-1)", "Previous option", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"choice-picker--hint"}
    DEFAULT_CSS = """
    ChoicePicker {
        height: 1;
        width: 1fr;
        background: $surface;
        pointer: pointer;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        & > .choice-picker--hint { color: $text-muted; }
        &:focus {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
            & > .choice-picker--hint { color: $block-cursor-foreground; text-style: not bold; }
        }
    }
    """

    def action_step(self, step: int) -> None:
        self.value = self._values[(self.index + step) % len(self.options)]

    def on_click(self, event: events.Click) -> None:
        self.focus()
        self.action_step(-1 if event.x < 2 else 1)

    def render(self) -> Content:
        label = self.options[self.index][0]
        hint = self.get_visual_style("choice-picker--hint")
        return Content.assemble(f"◀ {label.ljust(max(len(option) for option, _ in self.options))} ▶",
                                (f"  {self.index + 1}/{len(self.options)}  ←/→", hint))
