"""Step 3: the live checks, grouped, each row filling in as its result arrives; r runs them again."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from dex_tui.checks import REGISTRY
from dex_tui.results import CheckResult, Severity, Status
from screens.base import StepScreen
from screens.checks_view import (
    CheckDetailDialog,
    ChecksTable,
    LaterStep,
    checks_for,
    is_problem,
    summary_text,
    to_do_later,
)
from screens.text import plain

READING_TICK = 0.5  # seconds between redraws while the checks run (the pages read of long reads)


class EligibilityScreen(StepScreen):
    STEP_ID = "eligibility"
    BINDINGS = [
        Binding("r", "rerun", "Re-run checks", id="eligibility.rerun"),
        Binding("d", "details", "Details", id="eligibility.details"),
        Binding("k", "acknowledge", "Acknowledge", id="eligibility.acknowledge"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="checks-progress")
        yield ChecksTable(id="checks")
        yield Static("", id="check-summary")

    def on_mount(self) -> None:
        super().on_mount()
        self._pages_before: dict[str, int] | None = None
        self.results_changed()
        self.query_one("#checks", ChecksTable).focus()
        self.set_interval(READING_TICK, self._reading_tick, name="pages read")

    def _reading_tick(self) -> None:
        """While the checks run, redraw so that long reads show the pages read so far."""
        if self.wizard.checks_running and self.is_mounted:
            self.results_changed()

    def pages_reading(self, ids: list[str]) -> dict[str, int]:
        """Pages read during this run, per check still waiting for a paged read (empty when not running)."""
        checker = self.wizard.core.checker
        if not self.wizard.checks_running or checker is None:
            self._pages_before = None
            return {}
        now = checker.client.pages_read()
        if self._pages_before is None:
            self._pages_before = now
        read = {name: count - self._pages_before.get(name, 0) for name, count in now.items()}
        return {i: pages for i in ids if i in REGISTRY and i not in self.wizard.results
                and (pages := sum(read.get(name, 0) for name in REGISTRY[i].reads)) > 0}

    def later_steps(self) -> dict[str, LaterStep]:
        """The checks of this service that a step after this one settles, with that step."""
        flow, service = self.wizard.core.flow, self.wizard.flow.answers.service
        here, _ = flow.step_number(self.STEP_ID, service)
        later: dict[str, LaterStep] = {}
        for check_id in checks_for(service):
            step = flow.step_settling(check_id, service)
            if step is not None and (number := flow.step_number(step.id, service)[0]) > here:
                later[check_id] = LaterStep(number, step.title)
        return later

    def results_changed(self) -> None:
        """Called by the app whenever a result arrives or a run starts or ends."""
        wizard = self.wizard
        table = self.query_one("#checks", ChecksTable)
        ids = checks_for(wizard.flow.answers.service)
        later = self.later_steps()
        reading = self.pages_reading(ids)
        table.show(ids, wizard.results, running=wizard.checks_running, later=later, reading=reading)
        self.query_one("#checks-progress", Static).update(
            headline(wizard.results, ids, wizard.checks_running, wizard.core.checked_at, later))
        self._show_summary()
        self.refresh_frame()

    @on(DataTable.RowHighlighted, "#checks")
    def _show_summary(self) -> None:
        table = self.query_one("#checks", ChecksTable)
        check_id = table.selected_id()
        self.query_one("#check-summary", Static).update(summary_text(self.wizard.results.get(check_id or ""), check_id))

    @on(DataTable.RowSelected, "#checks")
    def _open_detail(self, event: DataTable.RowSelected) -> None:
        self._show_detail(event.row_key.value)

    def action_details(self) -> None:
        """d: the evidence of the selected check (as Enter)."""
        self._show_detail(self.query_one("#checks", ChecksTable).selected_id())

    def _show_detail(self, check_id: str | None) -> None:
        result = self.wizard.results.get(check_id or "")
        if result is not None:
            self.app.push_screen(CheckDetailDialog(result))
        else:
            self.app.bell()

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


def blockers_now(results: dict[str, CheckResult], ids: list[str], later: dict[str, LaterStep]) -> list[CheckResult]:
    """The blockers that failed or could not be read, except those a later step settles (see
    :func:`~screens.checks_view.to_do_later`)."""
    return [r for i in ids if (r := results.get(i)) is not None and to_do_later(i, results, later) is None
            and r.severity is Severity.BLOCKER and r.status in (Status.FAIL, Status.UNKNOWN)]


def headline(results: dict[str, CheckResult], ids: list[str], running: bool, checked_at: str,
             later: dict[str, LaterStep]) -> Text:
    """The step's verdict first: each blocker by name (or that there is none) and what to look at,
    then the counts; checks a later step settles are counted as "to do in step N", not as problems."""
    done = sum(1 for i in ids if i in results)
    if running:
        return plain(f"Checking your tenant live… {done} of {len(ids)} done. Rows fill in as results arrive.",
                     style="italic")
    if not results:
        return plain("The checks have not run yet: sign in first.", style="italic")
    blockers = blockers_now(results, ids, later)
    others = [r for i in ids if is_problem(i, results, later) and (r := results[i]) not in blockers]
    if blockers:
        names = "; ".join(f"{r.title}{' (could not be read)' if r.status is Status.UNKNOWN else ''}" for r in blockers)
        text = plain(f"✖ {len(blockers)} blocker{'s' if len(blockers) != 1 else ''} to fix: ", style="bold red")
        text.append_text(plain(names + ".", style="bold"))
    else:
        text = plain("✔ No blocker.", style="bold green")
    if others:
        text.append_text(plain(f"  ▲ To look at: {'; '.join(r.title for r in others)}.", style="bold yellow"))
    counts: dict[str, int] = {}
    ahead: dict[int, int] = {}
    for check_id in ids:
        if check_id not in results:
            continue
        step = to_do_later(check_id, results, later)
        if step is not None:
            ahead[step.number] = ahead.get(step.number, 0) + 1
        else:
            status = results[check_id].status.value
            counts[status] = counts.get(status, 0) + 1
    parts = [f"{counts[s.value]} {s.value}" for s in Status if s.value in counts]
    line = f"\nChecked at {checked_at}: {', '.join(parts)}"
    if ahead:
        steps = ", ".join(str(n) for n in sorted(ahead))
        line += f"; {sum(ahead.values())} to do in step{'s' if len(ahead) > 1 else ''} {steps}"
    text.append_text(plain(line + ". d details, r re-runs.", style="dim"))
    return text
