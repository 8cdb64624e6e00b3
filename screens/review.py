"""Step 8: every check with its status, the warnings (skipped roles among them), the recorded
decisions, export of the report, where the audit trail is, and what comes next."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from dex_tui.answers import Answers, role_label
from dex_tui.catalogue import check_ids_for
from dex_tui.flow import SKIP_ACKNOWLEDGEMENT, Flow
from dex_tui.report import VERDICT_TEXT, verdict_for
from dex_tui.results import CheckResult, Status
from screens.base import StepScreen, role_warning
from screens.checks_view import CheckDetailDialog, badge, checks_for
from screens.recorded_choices import recorded_lines
from screens.text import plain, tenant

SERVICE_NAMES = {"xdr": "Defender Experts for XDR", "hunting": "Defender Experts for Hunting",
                 "mdr": "Defender Experts MDR"}


class ReviewScreen(StepScreen):
    STEP_ID = "review"
    BINDINGS = [
        Binding("e", "export", "Export report", id="review.export"),
        Binding("r", "rerun", "Re-run checks", id="review.rerun"),
        Binding("d", "details", "Details", id="review.details"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="verdict")
        with VerticalScroll(id="review-scroll"):
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
        self.query_one("#review-scroll", VerticalScroll).focus()

    def next_label(self) -> str:
        return "Finish ✔"

    def results_changed(self) -> None:
        wizard = self.wizard
        answers = wizard.flow.answers
        ids = check_ids_for(answers.service)  # every check of the report, those skipped for this service too
        results = [wizard.results[i] for i in ids if i in wizard.results]
        verdict = verdict_text(results, wizard.checks_running, len(ids))
        self.query_one("#verdict", Static).update(self._tenant_label() + verdict)
        self.query_one("#warnings", Static).update(self._warnings(results, answers))
        self.query_one("#decisions", Static).update(decisions_text(answers, wizard.core.flow))
        self.query_one("#all-checks", Static).update(checks_text(results))
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

    def _warnings(self, results: list[CheckResult], answers: Answers) -> Text:
        text = Text()
        for role in answers.skipped_roles() if answers.service == "xdr" else []:
            text.append_text(role_warning(role, answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role])))
            text.append("\n")
        for result in results:
            if result.status in (Status.FAIL, Status.WARN, Status.UNKNOWN) and result.id != "experts.roles":
                text.append_text(badge(result.status.value) + plain(f"  {result.title}: ", style="bold")
                                 + tenant(result.summary, limit=400))
                text.append("\n")
        if not text.plain:
            return plain("None.")
        text.rstrip()
        return text

    def _show_report_status(self) -> None:
        wizard = self.wizard
        text = plain("e exports the readiness report (JSON, Markdown or HTML).")
        for path, fmt in wizard.core.exports:
            text.append_text(plain(f"\n✔ Exported {fmt}: ") + tenant(path, limit=400))
        text.append_text(plain("\nAudit trail (who decided what, when): ") + tenant(str(wizard.core.audit.path), limit=400))
        text.append_text(plain("\nProgress file: ") + tenant(str(wizard.core.progress_store.path), limit=400))
        self.query_one("#report-status", Static).update(text)

    def action_export(self) -> None:
        self.wizard.action_export()

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


def verdict_text(results: list[CheckResult], running: bool, expected: int) -> Text:
    """The report's verdict in one line (the same words as ``dex-tui check``)."""
    if running or len(results) < expected:
        return plain("The checks are still running…", style="italic")
    verdict = verdict_for(results)
    style = {"ready": "bold green", "warnings": "bold yellow", "blocked": "bold red"}.get(verdict, "bold magenta")
    mark = {"ready": "✔", "warnings": "▲", "blocked": "✖"}.get(verdict, "?")
    return plain(f"{mark} {VERDICT_TEXT[verdict]}", style=style)


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


def checks_text(results: list[CheckResult]) -> Text:
    """Every check as a line: status, title, summary (d shows the evidence of one)."""
    lines = [badge(r.status.value) + plain(f"  {r.title}: ", style="bold") + tenant(r.summary, limit=300)
             for r in results]
    return Text("\n").join(lines) if lines else plain("No results yet.", style="italic")
