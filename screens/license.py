"""Step 5: order the Defender Experts licence in the admin center; watch for it; confirm honestly.

No Defender Experts part number is published, so what the watch sees is a hint; the operator's
own confirmation (who, when) is what the ``experts.license`` check and the report use.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Label, Static

from dex_tui.results import CheckResult
from screens.scrolling import ReadingScroll
from screens.text import plain, tenant
from screens.watch import WatchingStep

INTRO = ("Defender Experts is bought through your Microsoft account team (your Commercial Executive). "
         "Once it is transacted, the licence shows in the Microsoft 365 admin center.")


class LicenseScreen(WatchingStep):
    STEP_ID = "license"
    BINDINGS = [
        Binding("o", "open_admin_center", "Open center", id="license.open"),
        Binding("w", "toggle_watch", "Watch", id="license.watch"),
        Binding("r", "look_now", "Look", id="license.look"),
    ]

    def compose_body(self) -> ComposeResult:
        step = self.step
        with ReadingScroll(id="license-scroll"):
            yield Static(plain(INTRO), classes="step-text")
            yield Static(plain(f"In the {step.link_label}: ", style="bold") + plain(step.portal_path),
                         classes="step-text")
            yield Label("Watching the tenant's subscriptions", classes="field-label")
            yield Static("", id="watch-status")
            yield Static("", id="license-hint")
            yield Label("Your confirmation", classes="field-label")
            yield Static("", id="license-confirmation")
            yield Button("I confirm the order is placed", id="confirm-license", variant="primary", compact=True)
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_confirmation()
        self.watch_changed("Starting to watch…")
        self.start_watch()
        self.query_one("#confirm-license", Button).focus()

    def watch_done(self, results: list[CheckResult]) -> bool:
        """Stop once a Defender Experts-looking subscription is seen (or the order was confirmed)."""
        licence = [r for r in results if r.id == "experts.license"]
        return bool(licence and licence[0].evidence.get("hint_subscriptions")) or \
            self.wizard.flow.answers.license is not None

    def watch_changed(self, note: str | None, next_in: float = 0.0) -> None:
        result = self.wizard.results.get("experts.license")
        hints = list(result.evidence.get("hint_subscriptions") or []) if result else []
        status = self.query_one("#watch-status", Static)
        if note:
            status.update(plain(note, style="italic"))
        elif hints:
            status.update(plain(f"✔ Seen at round {self.rounds}. Watching stopped.", style="bold"))
        elif self.watching:
            status.update(self.watch_status_line())
        hint = self.query_one("#license-hint", Static)
        if hints:
            hint.update(plain("A subscription that looks like Defender Experts is in the tenant: ")
                        + tenant(", ".join(hints), style="bold")
                        + plain(". Microsoft publishes no part number, so this is a hint: confirm below."))
        elif result and result.evidence.get("hint_unavailable"):
            hint.update(plain("The subscriptions could not be read: ") + tenant(result.evidence["hint_unavailable"])
                        + plain(" Confirm below if you placed the order."))
        else:
            hint.update(plain("Microsoft publishes no part number for Defender Experts, so the wizard may never "
                              "see it with certainty. When the order is placed, confirm it below."))

    def watch_status_line(self) -> Text:
        return self.watch_progress() + plain(" Not seen yet. w stops, r looks now.", style="italic")

    def _show_confirmation(self) -> None:
        confirmed = self.wizard.flow.answers.license
        widget = self.query_one("#license-confirmation", Static)
        button = self.query_one("#confirm-license", Button)
        if confirmed:
            widget.update(plain(f"✔ Order confirmed by {confirmed.by} at {confirmed.at}.", style="bold"))
            button.display = False
        else:
            widget.update(Text("Not confirmed yet. You may go on without it; the review will flag it.",
                               style="italic"))
            button.display = True

    @on(Button.Pressed, "#confirm-license")
    def _confirm(self) -> None:
        result = self.wizard.results.get("experts.license")
        hints = list(result.evidence.get("hint_subscriptions") or []) if result else []
        self.wizard.confirm(self.STEP_ID, service=self.wizard.flow.answers.service, seen_in_tenant=hints)
        self._show_confirmation()
        self.query_one("#next").focus()

    def action_open_admin_center(self) -> None:
        self.app.open_url(self.step.link)

    def after_demo_action(self) -> None:
        self.start_watch()
