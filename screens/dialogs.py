"""Modal dialogs: the one error dialog, yes/no confirmation, a link to copy, and skipping a role.

Every tenant string reaches these as ``rich.text.Text`` (never markup); see ``screens.text``.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from dex_tui.errors import DexError
from screens.text import plain
from screens.toggles import TickBox


class ErrorDialog(ModalScreen[None]):
    """The one error dialog: a DexError's title, plain explanation and next step."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="error.close")]
    AUTO_FOCUS = "#error-ok"

    def __init__(self, error: DexError) -> None:
        super().__init__(classes="dialog error-dialog")
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(self.error.title), classes="dialog-title", id="error-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(plain(self.error.explanation), id="error-explanation")
                if self.error.next_step:
                    yield Static(plain("What to do: ", style="bold") + plain(self.error.next_step),
                                 id="error-next-step")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="error-ok", variant="primary", compact=True)

    @on(Button.Pressed, "#error-ok")
    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; Esc means no."""

    BINDINGS = [Binding("escape", "no", "Cancel", id="confirm.no")]
    AUTO_FOCUS = "#confirm-no"

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(self.title_text), classes="dialog-title")
            yield Static(plain(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.no_label, id="confirm-no", compact=True)
                yield Button(self.yes_label, id="confirm-yes", variant="warning", compact=True)

    @on(Button.Pressed, "#confirm-yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_no(self) -> None:
        self.dismiss(False)


class LinkDialog(ModalScreen[None]):
    """A URL the operator opens on another device: shown in full, copied with OSC 52 on request."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="link.close"),
        Binding("c", "copy", "Copy", id="link.copy"),
    ]
    AUTO_FOCUS = "#link-copy"

    def __init__(self, url: str, why: str) -> None:
        super().__init__(classes="dialog")
        self.url = url
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static("Open this link in a browser", classes="dialog-title")
            yield Static(plain(self.why), classes="dialog-text")
            yield Static(plain(self.url, style="bold underline"), id="link-url", classes="dialog-url")
            yield Static("", id="link-status", classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy link", id="link-copy", variant="primary", compact=True)
                yield Button("Close", id="link-close", compact=True)

    @on(Button.Pressed, "#link-copy")
    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.url)
        self.query_one("#link-status", Static).update(
            "Sent the link to your clipboard through the terminal (OSC 52). If nothing was copied, your "
            "terminal ignores OSC 52 (in tmux: set -g set-clipboard on): select the link with the mouse "
            "(hold Shift in most terminals).")

    @on(Button.Pressed, "#link-close")
    def action_close(self) -> None:
        self.dismiss(None)


class SkipRoleDialog(ModalScreen[bool]):
    """Skipping an optional role: what the experts then cannot do, and an explicit acknowledgement.

    Dismisses True when the operator acknowledged and skips, False when they grant the role instead.
    """

    BINDINGS = [Binding("escape", "grant", "Grant instead", id="skip.cancel")]
    AUTO_FOCUS = "#skip-ack"

    def __init__(self, role_label: str, consequences: list[str], intro: str) -> None:
        super().__init__(classes="dialog skip-dialog")
        self.role_label = role_label
        self.consequences = consequences
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(f"Skip {self.role_label}?"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(plain(self.intro), classes="dialog-text")
                for item in self.consequences:
                    yield Static(plain("  • " + item), classes="consequence")
            yield TickBox("I understand what the experts will not be able to do", id="skip-ack", compact=True)
            yield Static("Space ticks the box, Tab reaches 'Skip it'; Esc grants the role instead.",
                         classes="dialog-hint", id="skip-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Skip it", id="skip-confirm", variant="warning", compact=True)
                yield Button(f"Grant {self.role_label}", id="skip-grant", variant="primary", compact=True)

    @on(Button.Pressed, "#skip-confirm")
    def _skip(self) -> None:
        """Skipping needs the box ticked first (the button stays focusable, so fast typing or a
        script never lands elsewhere)."""
        box = self.query_one("#skip-ack", TickBox)
        if box.value:
            self.dismiss(True)
            return
        self.query_one("#skip-hint", Static).update(plain("Tick the box first (Space), then Skip it.", style="bold"))
        box.focus()

    @on(Button.Pressed, "#skip-grant")
    def action_grant(self) -> None:
        self.dismiss(False)
