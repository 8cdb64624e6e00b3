"""The screen of a step that needs no screen of its own: its portal path and link, and, when the step
confirms something (``confirms`` in the flow), a button that records the operator's confirmation."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from screens.base import StepScreen
from screens.text import plain


class GenericStepScreen(StepScreen):
    """Shared by every step that names no screen (``screens.steps`` gives each its own subclass)."""

    BINDINGS = [Binding("o", "open_link", "Open link", id="generic.open")]

    def compose_body(self) -> ComposeResult:
        step = self.step
        with VerticalScroll(id="generic-scroll"):
            if step.portal_path:
                where = f"In the {step.link_label}: " if step.link_label else "Where: "
                yield Static(plain(where, style="bold") + plain(step.portal_path), classes="step-text")
            yield Static("", id="confirmation")
            if step.confirms is not None:
                yield Button(f"{step.confirms.label} (record my confirmation)", id="confirm", compact=True)
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_confirmation()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_link":
            return bool(self.step.link)
        return super().check_action(action, parameters)

    def _show_confirmation(self) -> None:
        confirmed = self.wizard.flow.answers.confirmation(self.STEP_ID)
        if confirmed is not None:
            self.query_one("#confirmation", Static).update(
                plain(f"✔ Confirmed by {confirmed.by} at {confirmed.at}.", style="bold"))
        if self.step.confirms is not None:
            self.query_one("#confirm", Button).display = confirmed is None

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.wizard.confirm(self.STEP_ID)
        self._show_confirmation()
        self.query_one("#next").focus()

    def action_open_link(self) -> None:
        if self.step.link:
            self.app.open_url(self.step.link)
