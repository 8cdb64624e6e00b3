"""Help for the current step (F1 or ?): the step's help text from ``flow.toml`` and the keys."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

from dex_tui.flow import Step

GLOBAL_KEYS = """
| Key | What it does |
|---|---|
| Tab, Shift+Tab | move between fields and buttons |
| Enter, Space | press a button, tick a box |
| Ctrl+N | next step (when allowed) |
| Esc | back to the previous step, or close a dialog |
| F1, ? | this help |
| Ctrl+P | command palette: re-run checks, export the report, restart |
| Ctrl+Q | quit (asks first; your progress is kept) |
| Ctrl+C | save your progress and quit at once |
"""

DEMO_KEYS = """
**Demo mode keys**: **a** approves the pending device-code sign-in; **p** on the licence, permissions
and service provider access steps does in the fake tenant what you would do in the portal (order the
licence, give access), so the live checks see the change.
"""


class HelpScreen(ModalScreen[None]):
    """A scrollable help dialog for one step."""

    BINDINGS = [Binding("escape,f1,question_mark", "close", "Close help", id="help.close")]
    AUTO_FOCUS = "#help-body"

    def __init__(self, step: Step, demo: bool) -> None:
        super().__init__(classes="dialog help-dialog")
        self.step = step
        self.demo = demo

    def compose(self) -> ComposeResult:
        text = f"{self.step.help}\n\n### Keys\n{GLOBAL_KEYS}"
        if self.demo:
            text += "\n" + DEMO_KEYS
        with Vertical(classes="dialog-box"):
            yield Static(f"Help: {self.step.title}", classes="dialog-title")
            with VerticalScroll(classes="dialog-body", id="help-body"):
                yield Markdown(text, id="help-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="help-close", compact=True)

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
