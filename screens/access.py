"""Step 7 (XDR): verify live the experts' cross-tenant partner and the two conditional access
policies, watching until they appear, with a plain explanation while they are not there yet."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from dex_tui.results import CheckResult, Status
from screens.checks_view import CheckDetailDialog, badge
from screens.scrolling import ReadingScroll
from screens.text import plain, tenant
from screens.watch import WatchingStep

WHILE_ABSENT = (
    "Not there yet? Giving access on the Defender Experts settings page makes Microsoft create, in your "
    "tenant, a cross-tenant access partner for the Microsoft Experts service provider (trusting its MFA and "
    "compliant devices) and two conditional access policies named 'Microsoft Security Experts-…-DO NOT "
    "DELETE'. It can take a while; the administrator who gave access should stay signed in to the portal "
    "until it finishes. This step keeps looking.")


class AccessScreen(WatchingStep):
    STEP_ID = "access"
    BINDINGS = [
        Binding("w", "toggle_watch", "Watch", id="access.watch"),
        Binding("r", "look_now", "Look", id="access.look"),
        Binding("d", "details", "Details", show=False, id="access.details"),
        Binding("o", "open_entra", "Entra", id="access.open"),
    ]

    def compose_body(self) -> ComposeResult:
        step = self.step
        with ReadingScroll(id="access-scroll"):
            yield Static("", id="watch-status")
            for check_id in self.watch_ids:
                yield Static("", id=f"row-{check_id.replace('.', '-')}", classes="access-row")
            yield Static(plain(WHILE_ABSENT), id="while-absent")
            yield Static(plain(f"See them in the {step.link_label}: ", style="bold") + plain(step.portal_path),
                         classes="step-text")
            yield Static("", id="access-confirmation")
            yield Button("I gave access (record my confirmation)", id="confirm-access", compact=True)
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        self.watch_changed("Looking…")
        self.start_watch()

    def watch_done(self, results: list[CheckResult]) -> bool:
        by_id = {r.id: r for r in results}
        return all(by_id.get(i) is not None and by_id[i].status == Status.PASS for i in self.watch_ids)

    def watch_changed(self, note: str | None, next_in: float = 0.0) -> None:
        results = [self.wizard.results.get(i) for i in self.watch_ids]
        for check_id, result in zip(self.watch_ids, results, strict=True):
            row = self.query_one(f"#row-{check_id.replace('.', '-')}", Static)
            if result is None:
                row.update(badge("running") + plain("  " + check_id))
            else:
                row.update(badge(result.status.value) + plain(f"  {result.title}\n", style="bold")
                           + plain("    ") + tenant(result.summary, limit=400))
        all_pass = all(r is not None and r.status == Status.PASS for r in results)
        unreadable = any(r is not None and r.status == Status.UNKNOWN for r in results)
        self.query_one("#while-absent", Static).display = not all_pass
        status = self.query_one("#watch-status", Static)
        if note:
            status.update(plain(note, style="italic"))
        elif all_pass:
            status.update(plain(f"✔ Both are in place (round {self.rounds}). Watching stopped.", style="bold"))
        elif self.watching:
            status.update(self.watch_status_line())
        self._show_confirmation(unreadable and not all_pass)

    def watch_status_line(self) -> Text:
        return self.watch_progress() + plain(" Not complete yet. w stops, r looks now, d shows details.",
                                             style="italic")

    def _show_confirmation(self, offer: bool) -> None:
        """A manual confirmation only when the tenant cannot be read: never instead of a live check."""
        confirmed = self.wizard.flow.answers.access
        widget = self.query_one("#access-confirmation", Static)
        button = self.query_one("#confirm-access", Button)
        if confirmed:
            widget.update(plain(f"Recorded: access given, confirmed by {confirmed.by} at {confirmed.at}.",
                                style="italic"))
        else:
            widget.update(Text("The checks cannot read your tenant's access settings; you may record that you "
                               "gave access.", style="italic") if offer else "")
        button.display = offer and confirmed is None
        if not button.display and button.has_focus:  # a hidden button must not keep the focus unseen
            self.query_one("#next").focus()

    @on(Button.Pressed, "#confirm-access")
    def _confirm(self) -> None:
        self.wizard.confirm(self.STEP_ID, verified_live=False)
        self._show_confirmation(False)

    def action_details(self) -> None:
        for check_id in self.watch_ids:
            result = self.wizard.results.get(check_id)
            if result is not None and result.status != Status.PASS:
                self.app.push_screen(CheckDetailDialog(result))
                return
        result = self.wizard.results.get(self.watch_ids[0])
        if result is not None:
            self.app.push_screen(CheckDetailDialog(result))

    def action_open_entra(self) -> None:
        self.app.open_url(self.step.link)

    def after_demo_action(self) -> None:
        self.start_watch()
