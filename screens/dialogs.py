"""Modal dialogs: the one error dialog, yes/no confirmation, a link to copy, skipping a role and
acknowledging a check. In every one Esc cancels and changes nothing; a decision needs its button.

Every tenant string reaches these as ``rich.text.Text`` (never markup); see ``screens.text``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Button, Input, Label, Static

from dex_tui.acknowledgements import MAX_REASON, AcknowledgementRefused, parse_expiry
from dex_tui.answers import Acknowledgement
from dex_tui.errors import DexError
from dex_tui.results import CheckResult
from screens.scrolling import ReadingScroll
from screens.text import plain, tenant
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
            "Sent the link to your clipboard through the terminal (OSC 52). If nothing was copied, your "
            "terminal ignores OSC 52 (in tmux: set -g set-clipboard on): select the link with the mouse "
            "(hold Shift in most terminals).")

    @on(Button.Pressed, "#link-close")
    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Acknowledged:
    """What an acknowledgement dialog was answered with: why, and until when (None: no expiry)."""

    reason: str
    expires: date | None


# Checks the dialog's reason and expiry the way the session will (it raises AcknowledgementRefused):
# the dialog stays open with the operator's text when they are refused.
Validate = Callable[[str, "date | None"], str]


class _AcknowledgementFields:
    """The reason (required) and the optional expiry, shared by the two acknowledgement dialogs."""

    def ack_fields(self, prefix: str) -> ComposeResult:
        yield Label("Why is this accepted? (required)", classes="field-label")
        yield Input("", id=f"{prefix}-reason", placeholder="e.g. Our SOC takes the response actions",
                    max_length=MAX_REASON, compact=True)
        yield Label("Until when? (optional, YYYY-MM-DD: from that day it counts again)", classes="field-label")
        yield Input("", id=f"{prefix}-expires", placeholder="YYYY-MM-DD", max_length=10, compact=True)

    def ack_values(self, screen: ModalScreen[Any], prefix: str, today: date, validate: Validate,
                   problem: Static) -> Acknowledged | None:
        """The reason and expiry typed, checked; None (and the problem shown) when they are refused."""
        reason_field = screen.query_one(f"#{prefix}-reason", Input)
        expires_field = screen.query_one(f"#{prefix}-expires", Input)
        try:
            expires = parse_expiry(expires_field.value, today)
        except AcknowledgementRefused as refused:
            problem.update(plain(f"{refused.explanation} {refused.next_step}", style="bold"))
            expires_field.focus()
            return None
        try:
            reason = validate(reason_field.value, expires)
        except AcknowledgementRefused as refused:
            problem.update(plain(f"{refused.explanation} {refused.next_step}", style="bold"))
            (reason_field if not reason_field.value.strip() or "reason" in refused.explanation
             else expires_field).focus()
            return None
        return Acknowledged(reason, expires)


class SkipRoleDialog(_AcknowledgementFields, FittedDialog["Acknowledged | bool | None"]):
    """Skipping an optional role: what the experts then cannot do, an explicit acknowledgement, why
    (required) and until when (optional).

    Dismisses with :class:`Acknowledged` when the operator skips (the box ticked, a reason given),
    False when they grant the role instead, and None when they cancel (Esc): nothing changes.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="skip.cancel")]
    AUTO_FOCUS = "#skip-ack"

    def __init__(self, role_label: str, consequences: list[str], intro: str, *, today: date,
                 validate: Validate) -> None:
        super().__init__(classes="dialog skip-dialog")
        self.role_label = role_label
        self.consequences = consequences
        self.intro = intro
        self.today = today
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(f"Skip {self.role_label}?"), classes="dialog-title")
            with ReadingScroll(classes="dialog-body", early_focus=True):
                yield Static(plain(self.intro), classes="dialog-text")
                for item in self.consequences:
                    yield Static(plain("  • " + item), classes="consequence")
                yield TickBox("I understand what the experts will not be able to do", id="skip-ack", compact=True)
                yield from self.ack_fields("skip")
            yield Static("Space ticks the box; type why, then Tab to 'Skip it'. Esc cancels: nothing changes.",
                         classes="dialog-hint", id="skip-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Skip it", id="skip-confirm", variant="warning", compact=True)
                yield Button(f"Grant {self.role_label}", id="skip-grant", variant="primary", compact=True)
                yield Button("Cancel", id="skip-cancel", compact=True)

    @on(Input.Submitted, "#skip-reason, #skip-expires")
    @on(Button.Pressed, "#skip-confirm")
    def _skip(self) -> None:
        """Skipping needs the box ticked and a reason first (the button stays focusable, so fast typing
        or a script never lands elsewhere)."""
        box = self.query_one("#skip-ack", TickBox)
        hint = self.query_one("#skip-hint", Static)
        if not box.value:
            hint.update(plain("Tick the box first (Space), then Skip it.", style="bold"))
            box.focus()
            return
        decided = self.ack_values(self, "skip", self.today, self.validate, hint)
        if decided is not None:
            self.dismiss(decided)

    @on(Button.Pressed, "#skip-grant")
    def action_grant(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#skip-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class AcknowledgeDialog(_AcknowledgementFields, FittedDialog["Acknowledged | bool | None"]):
    """Acknowledging a check's warning: what the check says, why it is accepted (required) and until
    when (optional). A check already acknowledged can have it withdrawn instead.

    Dismisses with :class:`Acknowledged`, False when the acknowledgement is withdrawn, and None when
    the operator cancels (Esc): nothing changes.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ack.cancel")]
    AUTO_FOCUS = "#ack-reason"

    def __init__(self, result: CheckResult, *, today: date, validate: Validate,
                 current: Acknowledgement | None = None) -> None:
        super().__init__(classes="dialog ack-dialog")
        self.result = result
        self.today = today
        self.validate = validate
        self.current = current

    def compose(self) -> ComposeResult:
        result = self.result
        with Vertical(classes="dialog-box"):
            yield Static(plain(f"Acknowledge {result.title}?"), classes="dialog-title")
            with ReadingScroll(classes="dialog-body"):
                yield Static(plain(f"{result.status.value}: ", style="bold") + tenant(result.summary, limit=600),
                             classes="dialog-text", id="ack-summary")
                yield Static(plain("The check keeps its status and is marked acknowledged in the review, the "
                                   "report and the audit trail, with your reason; until the expiry it does not "
                                   "count towards the verdict. Blockers that fail cannot be acknowledged."),
                             classes="dialog-text")
                if self.current is not None:
                    now = self.current
                    yield Static(plain("Acknowledged now by ") + tenant(now.by) + plain(f" at {now.at}: ")
                                 + tenant(now.reason, limit=500)
                                 + plain(f" (until {now.expires.isoformat()})" if now.expires else ""),
                                 classes="dialog-text", id="ack-current")
                yield from self.ack_fields("ack")
            yield Static("Type why, then Enter or 'Acknowledge'. Esc cancels: nothing changes.",
                         classes="dialog-hint", id="ack-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Acknowledge", id="ack-confirm", variant="warning", compact=True)
                if self.current is not None:
                    yield Button("Withdraw it", id="ack-withdraw", compact=True)
                yield Button("Cancel", id="ack-cancel", compact=True)

    @on(Input.Submitted, "#ack-reason, #ack-expires")
    @on(Button.Pressed, "#ack-confirm")
    def _acknowledge(self) -> None:
        decided = self.ack_values(self, "ack", self.today, self.validate, self.query_one("#ack-hint", Static))
        if decided is not None:
            self.dismiss(decided)

    @on(Button.Pressed, "#ack-withdraw")
    def _withdraw(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#ack-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
