"""Hunting's Sample notification step: the operator sends it from the portal and records that they
did (who, when); the wizard then watches ``security/incidents`` until the test incident appears."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from dex_tui.mdr_answers import Recorded
from dex_tui.mdr_choices import sample_sent
from dex_tui.results import CheckResult, Status
from screens.live_checks import LiveChecksStep
from screens.text import plain, tenant


class SampleNotificationScreen(LiveChecksStep):
    STEP_ID = "hunting_sample"
    LOOK_ON_MOUNT = False  # nothing to look for before the operator sent it

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sample-scroll"):
            yield self.portal_line()
            yield Static("", id="sample-recorded")
            yield Button("I sent it (record)", id="record-sample", compact=True)
            yield from self.compose_rows()
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        if self._sent() is not None and self.wizard.session is not None:
            self.start_watch()

    def _sent(self) -> Recorded | None:
        hunting = self.wizard.flow.answers.hunting
        return hunting.sample_notification if hunting is not None else None

    def watch_done(self, results: list[CheckResult]) -> bool:
        """Watch until the test incident is found (or nothing is recorded as sent: nothing to find)."""
        return self._sent() is None or all(r.status == Status.PASS for r in results)

    def rows_changed(self) -> None:
        sent = self._sent()
        line = self.query_one("#sample-recorded", Static)
        if sent is None:
            line.update(plain("Send it from the portal first, then record it here; the wizard then looks for "
                              "its test incident.", style="italic"))
        else:
            line.update(plain("✔ Recorded as sent by ", style="bold") + tenant(sent.by, style="bold")
                        + plain(f" at {sent.at}.", style="bold"))
        self.query_one("#record-sample", Button).display = sent is None

    @on(Button.Pressed, "#record-sample")
    def _record(self) -> None:
        self.wizard.record_choice(self.STEP_ID, sample_sent)
        self.rows_changed()
        self.start_watch()
        self.query_one("#next").focus()
