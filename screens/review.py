"""Step 8: every check with its status, the warnings (skipped roles among them), the recorded
decisions, export of the report, where the audit trail is, and what comes next."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Label, Static

from dex_tui.acknowledgements import ROLES_CHECK, Outcome, acknowledgeable, counting, verdict_words
from dex_tui.answers import Answers, role_label
from dex_tui.catalogue import check_ids_for
from dex_tui.drift import Drift, listed_changes
from dex_tui.flow import SKIP_ACKNOWLEDGEMENT, Flow
from dex_tui.report import verdict_for
from dex_tui.results import CheckResult, Group, Status
from screens.base import StepScreen, role_warning
from screens.checks_view import GROUP_TITLES, CheckDetailDialog, badge, checks_for, group_of
from screens.recorded_choices import recorded_lines
from screens.scrolling import ReadingScroll
from screens.text import plain, tenant

SERVICE_NAMES = {"xdr": "Defender Experts for XDR", "hunting": "Defender Experts for Hunting",
                 "mdr": "Defender Experts MDR"}


class ReviewScreen(StepScreen):
    STEP_ID = "review"
    BINDINGS = [
        Binding("e", "export", "Export report", id="review.export"),
        Binding("r", "rerun", "Re-run checks", id="review.rerun"),
        Binding("d", "details", "Details", id="review.details"),
        Binding("k", "acknowledge", "Acknowledge", id="review.acknowledge"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="verdict")
        with ReadingScroll(id="review-scroll"):
            yield Label("Changes since the last run", classes="field-label", id="changes-label")
            yield Static("", id="changes")
            yield Label("Warnings", classes="field-label")
            yield Static("", id="warnings")
            yield Label("Your decisions", classes="field-label")
            yield Static("", id="decisions")
            yield Label("Every check", classes="field-label")
            yield Static("", id="all-checks")
            yield Label("Report and audit trail", classes="field-label")
            yield Static("", id="report-status")
            yield Label("Next steps", classes="field-label")
            yield Static("", id="next-steps")

    def on_mount(self) -> None:
        super().on_mount()
        self.results_changed()
        self.query_one("#review-scroll", ReadingScroll).focus()

    def next_label(self) -> str:
        return "Finish ✔"

    def results_changed(self) -> None:
        wizard = self.wizard
        answers = wizard.flow.answers
        ids = check_ids_for(answers.service)  # every check of the report, those skipped for this service too
        results = [wizard.results[i] for i in grouped_ids(ids, wizard.results) if i in wizard.results]
        outcomes = wizard.core.acknowledgement_outcomes()  # the acknowledged checks do not count
        verdict = verdict_text(results, wizard.checks_running, len(ids), counting(results, outcomes),
                               sum(1 for o in outcomes if o.state == "active"))
        self.query_one("#verdict", Static).update(self._tenant_label() + verdict)
        self.query_one("#warnings", Static).update(self._warnings(results, answers))
        self.query_one("#decisions", Static).update(decisions_text(answers, wizard.core.flow))
        self.query_one("#all-checks", Static).update(checks_grid(results))
        self._show_changes(results, wizard.checks_running)
        self._show_report_status()
        steps = wizard.core.flow.next_steps(answers.service)
        self.query_one("#next-steps", Static).update(
            plain("\n".join(f"{n}. {line}" for n, line in enumerate(steps, start=1))))
        self.refresh_frame()

    def _tenant_label(self) -> Text:
        """Which tenant the verdict is about (its name and default domain, as Graph reported them)."""
        checker = self.wizard.core.checker
        org = checker.facts.get("organization") if checker is not None else None
        if org is None or not org.display_name:
            return Text("")
        domain = plain(" (") + tenant(org.default_domain) + plain(")") if org.default_domain else Text("")
        return tenant(org.display_name, style="bold") + domain + plain(": ")

    def _warnings(self, results: list[CheckResult], answers: Answers) -> RenderableType:
        """Each warning once, in the Eligibility step's order: the skipped roles first, then every check
        that failed, warns or could not be read (the roles check is the skipped roles)."""
        grid = _grid()
        for role in answers.skipped_roles() if answers.service == "xdr" else []:
            warning = role_warning(role, answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role]))
            grid.add_row(Text("⚠ skipped", style="bold yellow"),
                         warning[2:] if warning.plain.startswith("⚠ ") else warning)
        acknowledged = {o.check_id: o for o in self.wizard.core.acknowledgement_outcomes()}
        attention = [r for r in results
                     if r.status in (Status.FAIL, Status.WARN, Status.UNKNOWN) and r.id != "experts.roles"]
        for result in attention:
            grid.add_row(badge(result.status.value),
                         _check_line(result) + acknowledgement_note(acknowledged.get(result.id)))
        if not grid.rows:
            return plain("None.")
        return grid

    def refresh_frame(self) -> None:
        """As every step, but the skipped roles are said once, under Warnings, not in the banner too."""
        super().refresh_frame()
        self.query_one("#skip-warning", Static).display = False

    def _show_report_status(self) -> None:
        wizard = self.wizard
        from dex_tui.exit_summary import host_name

        text = plain("e exports the readiness report (JSON, Markdown or HTML).")
        for path, fmt in wizard.core.exports:
            text.append_text(plain(f"\n✔ Exported {fmt}: ") + tenant(path, limit=400)
                             + plain(" on host ") + tenant(host_name(), limit=100))
        text.append_text(plain("\nAudit trail (who decided what, when): ") + tenant(str(wizard.core.audit.path), limit=400))
        text.append_text(plain("\nProgress file: ") + tenant(str(wizard.core.progress_store.path), limit=400))
        self.query_one("#report-status", Static).update(text)

    def _show_changes(self, results: list[CheckResult], running: bool) -> None:
        """"Changes since DATE" against the run another session kept for this tenant and service
        (hidden when there is none)."""
        drift = None if running or not results else self.wizard.core.changes_since()
        self.query_one("#changes-label", Label).display = drift is not None
        widget = self.query_one("#changes", Static)
        widget.display = drift is not None
        if drift is not None:
            self.query_one("#changes-label", Label).update(f"Changes since {drift.since}")
            widget.update(changes_text(drift, {r.id: r.title for r in results}))

    def action_export(self) -> None:
        self.wizard.action_export()

    def action_acknowledge(self) -> None:
        """Acknowledge a warning: the first one not acknowledged yet (then the first acknowledged one,
        to change or withdraw it); the dialog names the check."""
        core = self.wizard.core
        results = [core.results[i] for i in check_ids_for(core.state.answers.service)
                   if i in core.results and i != ROLES_CHECK]
        candidates = [r for r in results if acknowledgeable(r)]
        fresh = [r for r in candidates if r.id not in core.state.answers.acknowledgements]
        chosen = (fresh or candidates)[:1]
        if not chosen:
            self.app.notify("No warning to acknowledge: blockers cannot be, and a skipped role is acknowledged "
                            "on Manage permissions.", timeout=8)
            return
        self.wizard.ask_acknowledgement(chosen[0].id)

    def action_rerun(self) -> None:
        self.wizard.action_rerun_checks()

    def action_details(self) -> None:
        """The first check that needs attention (or the first check), with its evidence."""
        results = [self.wizard.results[i] for i in checks_for(self.wizard.flow.answers.service)
                   if i in self.wizard.results]
        for result in results:
            if result.status in (Status.FAIL, Status.WARN, Status.UNKNOWN):
                self.app.push_screen(CheckDetailDialog(result))
                return
        if results:
            self.app.push_screen(CheckDetailDialog(results[0]))

    def report_exported(self) -> None:
        self._show_report_status()
        self.query_one("#report-status", Static).scroll_visible(animate=False)


def verdict_text(results: list[CheckResult], running: bool, expected: int,
                 counted: list[CheckResult] | None = None, acknowledged: int = 0) -> Text:
    """The report's verdict in one line (the same words as ``dex-tui check``); ``counted``: the results
    that count (all but the ``acknowledged`` ones; default all)."""
    if running or len(results) < expected:
        return plain("The checks are still running…", style="italic")
    verdict = verdict_for(results if counted is None else counted)
    style = {"ready": "bold green", "warnings": "bold yellow", "blocked": "bold red"}.get(verdict, "bold magenta")
    mark = {"ready": "✔", "warnings": "▲", "blocked": "✖"}.get(verdict, "?")
    return plain(f"{mark} {verdict_words(verdict, acknowledged, 'Warnings')}", style=style)


def decisions_text(answers: Answers, flow: Flow) -> Text:
    """What the operator recorded: the service, each step's confirmation (``confirms`` in the flow, in
    its order), and on the roles step the roles and acknowledgements."""
    service = SERVICE_NAMES.get(answers.service, answers.service)
    lines = [plain(f"Service: {service}")]
    for step in flow.confirming_steps():
        confirms, confirmation = step.confirms, answers.confirmation(step.id)
        if confirms is None:
            continue
        if confirmation is not None:
            lines.append(plain(f"{confirms.label}: ") + tenant(confirmation.by) + plain(f" at {confirmation.at}"))
        elif confirms.review == "always" and step.applies_to(answers.service):
            lines.append(plain(f"{confirms.label}: not recorded", style="italic"))
    roles_step = flow.roles_step()
    if roles_step is not None and flow.get(roles_step).applies_to(answers.service):
        lines.append(plain("Roles: Security reader (required)"))
        for role, granted in answers.roles.items():
            label = role_label(role)
            state = {True: "granted", False: "skipped", None: "not decided"}[granted]
            line = plain(f"  {label}: {state}")
            ack = answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role])
            if granted is False and ack is not None:
                line.append_text(plain(" (acknowledged by ") + tenant(ack.by) + plain(f" at {ack.at})"))
            lines.append(line)
    lines += recorded_lines(answers)
    return Text("\n").join(lines)


def grouped_ids(ids: Iterable[str], results: dict[str, CheckResult]) -> list[str]:
    """``ids`` in the Eligibility step's order: Required, Coverage, Information, catalogue order within."""
    ids = list(ids)
    return [i for group in GROUP_TITLES for i in ids if group_of(i, results) == group]


def _grid() -> Table:
    """Two columns: the status glyph and word, then the text, which wraps under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=10, no_wrap=True)
    grid.add_column(ratio=1)
    return grid


def _check_line(result: CheckResult) -> Text:
    return plain(f"{result.title}: ", style="bold") + tenant(result.summary, limit=300)


def checks_grid(results: list[CheckResult]) -> RenderableType:
    """Every check under its group's title (as on the Eligibility step): the status as a coloured glyph
    and word (readable without colour too), the title and the one-line result."""
    if not results:
        return plain("No results yet.", style="italic")
    grid = _grid()
    shown: set[Group] = set()
    for result in results:
        if result.group not in shown:
            shown.add(result.group)
            grid.add_row(Text(""), Text(GROUP_TITLES[result.group], style="bold underline"))
        grid.add_row(badge(result.status.value), _check_line(result))
    return grid


def acknowledgement_note(outcome: Outcome | None) -> Text:
    """" (acknowledged until DATE: reason)" or " (acknowledgement expired on DATE)" after a warning."""
    if outcome is None or outcome.state not in ("active", "expired"):
        return Text("")
    reason = "; ".join(a.reason for a in outcome.acknowledgements)
    if outcome.state == "expired":
        return plain(f"  ({outcome.why}: it counts again)", style="bold")
    until = f" until {outcome.expires.isoformat()}" if outcome.expires else ""
    return plain(f"  (acknowledged{until}: ", style="italic") + tenant(reason, style="italic", limit=300) + plain(")")


_CHANGE_MARKS = {"regressed": ("▼ regressed", "bold red"), "fixed": ("▲ fixed", "bold green"),
                 "new": ("+ new", "cyan"), "unchanged": ("= unchanged", "dim")}


def changes_text(drift: Drift, titles: dict[str, str]) -> Text:
    """The counts per change, then each check whose status moved (regressions first) with its status
    before and now."""
    counts = drift.counts()
    lines = [plain(", ".join(f"{counts[c]} {c}" for c in ("regressed", "fixed", "new", "unchanged")))]
    for change in listed_changes([c.to_dict() for c in drift.changes]):
        label, style = _CHANGE_MARKS.get(str(change["change"]), (str(change["change"]), ""))
        before = change["before"] or "not checked"
        lines.append(plain(f"{label:<12}", style=style)
                     + plain(f"{titles.get(str(change['id']), str(change['id']))}: {before} → {change['after']}"))
    return Text("\n").join(lines)
