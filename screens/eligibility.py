"""Step 3: the live checks, grouped, each row filling in as its result arrives; r runs them again."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from dex_tui.results import CheckResult
from screens.base import StepScreen
from screens.checks_view import CheckDetailDialog, ChecksTable, checks_for, summary_text
from screens.text import plain


class EligibilityScreen(StepScreen):
    STEP_ID = "eligibility"
    BINDINGS = [Binding("r", "rerun", "Re-run checks", id="eligibility.rerun"),
                Binding("k", "acknowledge", "Acknowledge", id="eligibility.acknowledge")]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="checks-progress")
        yield ChecksTable(id="checks")
        yield Static("", id="check-summary")

    def on_mount(self) -> None:
        super().on_mount()
        self.results_changed()
        self.query_one("#checks", ChecksTable).focus()

    def results_changed(self) -> None:
        """Called by the app whenever a result arrives or a run starts or ends."""
        wizard = self.wizard
        table = self.query_one("#checks", ChecksTable)
        service = wizard.flow.answers.service
        ids = checks_for(service)
        later = {i: step.title for i in ids if (step := wizard.core.flow.step_settling(i, service)) is not None}
        table.show(ids, wizard.results, running=wizard.checks_running, later=later)
        self.query_one("#checks-progress", Static).update(
            progress_text(wizard.results, ids, wizard.checks_running, wizard.core.checked_at, later))
        self._show_summary()
        self.refresh_frame()

    @on(DataTable.RowHighlighted, "#checks")
    def _show_summary(self) -> None:
        table = self.query_one("#checks", ChecksTable)
        check_id = table.selected_id()
        self.query_one("#check-summary", Static).update(summary_text(self.wizard.results.get(check_id or ""), check_id))

    @on(DataTable.RowSelected, "#checks")
    def _open_detail(self, event: DataTable.RowSelected) -> None:
        check_id = event.row_key.value
        result = self.wizard.results.get(check_id or "")
        if result is not None:
            self.app.push_screen(CheckDetailDialog(result))

    def gate_reason(self) -> str | None:
        if self.wizard.checks_running:
            return "The checks are still running…"
        return super().gate_reason()

    def action_rerun(self) -> None:
        self.wizard.action_rerun_checks()

    def action_acknowledge(self) -> None:
        """Acknowledge the highlighted check's warning (with why and until when)."""
        check_id = self.query_one("#checks", ChecksTable).selected_id()
        if check_id is not None:
            self.wizard.ask_acknowledgement(check_id)


def progress_text(results: dict[str, CheckResult], ids: list[str], running: bool, checked_at: str,
                  later: dict[str, str]) -> Text:
    """'Checking… 5 of 15' while running; the counts per status when done, and the blockers to fix
    now (those a later step settles are counted apart)."""
    done = sum(1 for i in ids if i in results)
    if running:
        return plain(f"Checking your tenant live… {done} of {len(ids)} done. Rows fill in as results arrive.",
                     style="italic")
    if not results:
        return plain("The checks have not run yet: sign in first.", style="italic")
    counts: dict[str, int] = {}
    for check_id in ids:
        if check_id in results:
            status = results[check_id].status.value
            counts[status] = counts.get(status, 0) + 1
    failing = [i for i in ids if i in results and results[i].status.value == "fail"
               and results[i].severity.value == "blocker"]
    now = [i for i in failing if i not in later]
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    text = plain(f"Checked at {checked_at}: " + ", ".join(parts) + ". ")
    if now:
        text.append_text(plain(f"{len(now)} blocker{'s' if len(now) != 1 else ''} to fix. ", style="bold red"))
    pending = [i for i in ids if i in later and i in results and results[i].status.value != "pass"]
    if pending:
        text.append_text(plain(f"{len(pending)} settled in later steps. "))
    text.append_text(plain("r re-runs.", style="dim"))
    return text
