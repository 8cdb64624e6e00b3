"""Modal dialogs: the one error dialog, yes/no confirmation, a link to copy, and skipping a role.

Every tenant string reaches these as ``rich.text.Text`` (never markup); see ``screens.text``.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Button, Static

from dex_tui.errors import DexError
from screens.scrolling import ReadingScroll
from screens.text import plain
from screens.toggles import TickBox

BODY_ROWS = 14  # the most rows a dialog's scrolling text takes (the CSS's max-height of .dialog-body)


class FittedDialog(ModalScreen[ScreenResultType]):
    """A dialog that fits the terminal at any size: its title and buttons stay on screen (docked in
    the CSS) and its scrolling text (``.dialog-body``) gets the rows that are left, so a button is
    never below the bottom edge where Tab could reach it unseen."""

    def on_mount(self) -> None:
        self.call_after_refresh(self.fit_body)

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit_body)

    def fit_body(self) -> None:
        boxes = self.query(".dialog-box")
        bodies = self.query(".dialog-body")
        if not boxes or not bodies:
            return
        box, body = boxes.first(), bodies.first()
        others = sum(child.outer_size.height + child.styles.margin.top + child.styles.margin.bottom
                     for child in box.children if child is not body and child.display)
        frame = box.styles.border.spacing.height + box.styles.padding.height
        body.styles.max_height = max(2, min(BODY_ROWS, self.size.height - frame - others))


class ErrorDialog(FittedDialog[None]):
    """The one error dialog: a DexError's title, plain explanation and next step."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="error.close")]
    AUTO_FOCUS = "#error-ok"

    def __init__(self, error: DexError) -> None:
        super().__init__(classes="dialog error-dialog")
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(self.error.title), classes="dialog-title", id="error-title")
            with ReadingScroll(classes="dialog-body", early_focus=True):
                yield Static(plain(self.error.explanation), id="error-explanation")
                if self.error.next_step:
                    yield Static(plain("What to do: ", style="bold") + plain(self.error.next_step),
                                 id="error-next-step")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="error-ok", variant="primary", compact=True)

    @on(Button.Pressed, "#error-ok")
    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(FittedDialog[bool]):
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
            with ReadingScroll(classes="dialog-body", early_focus=True):
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


class LinkDialog(FittedDialog[None]):
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
            with ReadingScroll(classes="dialog-body", early_focus=True):
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
            "Copied to your clipboard through the terminal (OSC 52). If nothing was copied, your "
            "terminal ignores OSC 52: select the link with the mouse (hold Shift in most terminals).")

    @on(Button.Pressed, "#link-close")
    def action_close(self) -> None:
        self.dismiss(None)


class SkipRoleDialog(FittedDialog[bool]):
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
            with ReadingScroll(classes="dialog-body", early_focus=True):
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
