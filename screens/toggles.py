"""Checkboxes whose state reads without colour (the radio-style choices are in screens/choices.py).

Textual draws a ticked and an unticked box with the same glyph and tells them apart by colour only;
under ``NO_COLOR``, in a monochrome terminal, or in a plain-text capture both look ticked. This draws
the mark only when the value is on.
"""

from __future__ import annotations

from textual.color import Color
from textual.content import Content
from textual.style import Style
from textual.widgets import Checkbox
from textual.widgets._toggle_button import ToggleButton


def toggle_mark(left: str, inner: str, right: str, on: bool, style: Style, surface: Color) -> Content:
    """Textual's drawing of a toggle's button: ``inner`` in ``style`` between two half blocks in its
    background colour on ``surface``, with a blank inside when off (so it reads without colour)."""
    side = Style(foreground=style.background, background=surface)
    return Content.assemble((left, side), (inner if on else " " * len(inner), style), (right, side))


def _button(widget: ToggleButton) -> Content:
    """Textual's own drawing of the button (same styles), with a blank inside when off."""
    return toggle_mark(widget.BUTTON_LEFT, widget.BUTTON_INNER, widget.BUTTON_RIGHT, widget.value,
                       widget.get_visual_style("toggle--button"), widget.background_colors[1])


class TickBox(Checkbox):
    """A checkbox that shows ``X`` when ticked and a blank when not."""

    @property
    def _button(self) -> Content:
        return _button(self)
