"""Scrolling text that the keyboard reaches and the eye can see focused.

- :class:`ReadingScroll`: a scrolling area that is a Tab stop only while it has more than it shows
  (a container that cannot scroll is an invisible, useless Tab stop), with its focus drawn as a bar
  on its left (visible in any colours, NO_COLOR too).
- :class:`ReadingText`: text the operator must read that may sit below the fold (a portal's click
  path): a Tab stop of its own, so Tab scrolls it into view, drawn as focused the same way.
"""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static


class ReadingScroll(VerticalScroll):
    DEFAULT_CSS = """
    ReadingScroll {
        border-left: blank;
    }
    ReadingScroll:focus {
        border-left: thick $accent;
    }
    """

    def __init__(self, *children: Widget, early_focus: bool = False, **options: Any) -> None:
        """``early_focus``: it may take the focus before its first layout, when it cannot know yet whether
        it scrolls (a dialog's AUTO_FOCUS, which comes before the layout)."""
        super().__init__(*children, **options)
        self.early_focus = early_focus

    def allow_focus(self) -> bool:
        if not self.size.height:
            return super().allow_focus() and self.early_focus
        return super().allow_focus() and self.max_scroll_y > 0


class ReadingText(Static, can_focus=True):
    DEFAULT_CSS = """
    ReadingText {
        height: auto;
        border-left: blank;
    }
    ReadingText:focus {
        border-left: thick $accent;
        text-style: bold;
    }
    """
