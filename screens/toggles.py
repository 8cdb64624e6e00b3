"""Checkboxes whose state reads without colour (the radio-style choices are in screens/choices.py).

Textual draws a ticked and an unticked box with the same glyph and tells them apart by colour only;
under ``NO_COLOR``, in a monochrome terminal, or in a plain-text capture both look ticked. This draws
the mark only when the value is on.
"""

from __future__ import annotations

from textual.content import Content
from textual.style import Style
from textual.widgets import Checkbox
from textual.widgets._toggle_button import ToggleButton


def _button(widget: ToggleButton) -> Content:
    """Textual's own drawing of the button (same styles), with a blank inside when off."""
    button_style = widget.get_visual_style("toggle--button")
    side_style = Style(foreground=button_style.background, background=widget.background_colors[1])
    inner = widget.BUTTON_INNER if widget.value else " " * len(widget.BUTTON_INNER)
    return Content.assemble(
        (widget.BUTTON_LEFT, side_style),
        (inner, button_style),
        (widget.BUTTON_RIGHT, side_style),
    )


class TickBox(Checkbox):
    """A checkbox that shows ``X`` when ticked and a blank when not."""

    @property
    def _button(self) -> Content:
        return _button(self)
