"""A step that shows some checks live: one row per check its flow entry ``watches`` (status, title,
summary), a status line, and the keys to look again (r), watch (w), see the evidence (d) and open the
step's portal page (o). Today's steps that verify what the operator recorded (exclusions, Teams, the
sample notification) or mirror a portal page (readiness) are built on it; the service provider access
step draws its rows with :func:`check_row` too.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from dex_tui.results import CheckResult, Status
from screens.checks_view import CheckDetailDialog, badge
from screens.text import plain, tenant
from screens.watch import WatchingStep


def check_row(check_id: str, result: CheckResult | None) -> Text:
    """One check as two lines: its badge and title, then its summary (tenant text, bounded)."""
    if result is None:
        return badge("running") + plain("  " + check_id)
    return (badge(result.status.value) + plain(f"  {result.title}\n", style="bold") + plain("    ")
            + tenant(result.summary, limit=400))


def row_id(check_id: str) -> str:
    return "row-" + check_id.replace(".", "-")


class LiveChecksStep(WatchingStep):
    """Rows of the step's watched checks; subclasses add their controls around :meth:`compose_rows`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "toggle_watch", "Watch", id="live.watch"),
        Binding("r", "look_now", "Look", id="live.look"),
        Binding("d", "details", "Details", id="live.details"),
        Binding("o", "open_portal", "Open portal", id="live.open"),
    ]
    LOOK_ON_MOUNT: ClassVar[bool] = True  # look at the tenant as the step opens

    def compose_rows(self) -> ComposeResult:
        yield Static("", id="watch-status")
        for check_id in self.watch_ids:
            yield Static("", id=row_id(check_id), classes="live-row")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch_changed(None)
        if self.LOOK_ON_MOUNT and self.wizard.session is not None:
            self.watch_changed("Looking…")
            self.start_watch()

    def watch_done(self, results: list[CheckResult]) -> bool:
        """One look by default: these rows are read again on r (subclasses watch longer)."""
        return True

    def watch_changed(self, note: str | None, next_in: float = 0.0) -> None:
        for check_id in self.watch_ids:
            self.query_one(f"#{row_id(check_id)}", Static).update(check_row(check_id, self.wizard.results.get(check_id)))
        status = self.query_one("#watch-status", Static)
        if note:
            status.update(plain(note, style="italic"))
        elif self.watching:
            status.update(plain(f"Round {self.rounds}: not there yet; looking again in {int(next_in)} s. "
                                "w stops, r looks now, d shows details.", style="italic"))
        elif self.rounds:
            status.update(plain(f"Looked at the tenant (round {self.rounds}). r looks again, d shows details.",
                                style="italic"))
        self.rows_changed()

    def rows_changed(self) -> None:
        """Hook: the rows were drawn again (subclasses update what depends on them)."""

    def results_changed(self) -> None:
        self.watch_changed(None)

    def action_details(self) -> None:
        """The evidence of the first watched check that is not a pass (else of the first one)."""
        results = [r for i in self.watch_ids if (r := self.wizard.results.get(i)) is not None]
        chosen = next((r for r in results if r.status != Status.PASS), results[0] if results else None)
        if chosen is not None:
            self.app.push_screen(CheckDetailDialog(chosen))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_portal":
            return bool(self.step.link)
        return super().check_action(action, parameters)

    def action_open_portal(self) -> None:
        if self.step.link:
            self.app.open_url(self.step.link)

    def after_demo_action(self) -> None:
        self.start_watch()

    def portal_line(self) -> Static:
        """Where the step is done in the portal, from the flow entry."""
        step = self.step
        return Static(plain(f"In the {step.link_label}: ", style="bold") + plain(step.portal_path),
                      classes="step-text")
