"""The frame every wizard step shares: header, purpose line, body, skipped-role warning, Back/Next."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from dex_tui.flow import get_step, leave_blocker, step_number

if TYPE_CHECKING:
    from screens.app import WizardApp


class StepScreen(Screen[None]):
    """One step of the wizard. Subclasses set ``STEP_ID`` and implement :meth:`compose_body`."""

    STEP_ID: ClassVar[str] = ""
    BINDINGS = [
        Binding("escape", "back", "Back", id="step.back"),
        Binding("ctrl+n", "next", "Next", id="step.next"),
        Binding("f1", "help", "Help", id="step.help"),
        Binding("question_mark", "help", "Help", show=False, id="step.help_question"),
    ]

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        step = get_step(self.STEP_ID)
        number, total = step_number(self.STEP_ID, self.wizard.flow.answers.service)
        self.sub_title = f"Step {number}/{total} · {step.title}"
        yield Header(icon="≡")
        with Vertical(id="step"):
            yield Static(step.purpose, id="purpose")
            with Vertical(id="body"):
                yield from self.compose_body()
            yield Static("", id="skip-warning")
            with Horizontal(id="nav"):
                back = Button("◀ Back", id="back", compact=True)
                back.display = number > 1
                yield back
                yield Static("", id="gate")
                yield Button(self.next_label(), id="next", compact=True, variant="primary")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def next_label(self) -> str:
        return "Next ▶"

    def on_mount(self) -> None:
        self.refresh_frame()

    def refresh_frame(self) -> None:
        """Update the gate hint and the skipped-role warning from the app's state."""
        reason = self.gate_reason()
        self.query_one("#gate", Static).update(Text(reason or "", style="italic"))
        self.query_one("#next", Button).disabled = bool(reason)
        warning = self.wizard.skipped_roles_warning(self.STEP_ID)
        banner = self.query_one("#skip-warning", Static)
        banner.update(warning or "")
        banner.display = bool(warning)

    def gate_reason(self) -> str | None:
        """Why Next is disabled; steps with their own conditions extend this."""
        return leave_blocker(self.STEP_ID, self.wizard.flow.answers, signed_in=self.wizard.session is not None)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.wizard.go_back()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.gate_reason():
            self.app.bell()
            return
        self.before_next()

    def before_next(self) -> None:
        """Hook for steps that must ask something before moving on; the default moves on."""
        self.wizard.go_next()

    def action_help(self) -> None:
        self.wizard.action_help()
