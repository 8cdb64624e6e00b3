"""MDR's Permissions step: service provider access (always) and the access level(s), Security Reader
("Investigate incidents and guide my responses") and/or Security Operator ("Respond directly to active
threats"). Leaving out Security Operator opens the skip dialog naming the managed-response actions the
experts then cannot take (the roles catalogue's list, the same the check experts.access_level gives);
each choice is recorded at once with who and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Label, Static

from dex_tui import mdr_choices
from dex_tui.catalogue import catalogue
from dex_tui.mdr_answers import ACCESS_LEVELS
from screens.base import StepScreen
from screens.dialogs import Acknowledged, SkipRoleDialog
from screens.permissions import SERVICE_PROVIDER_TEXT
from screens.text import plain, tenant
from screens.toggles import TickBox

LEVELS = {
    "security_reader": ("Investigate incidents and guide my responses · Security Reader · default",
                        "The experts investigate incidents and tell you which response actions to take."),
    "security_operator": ("Respond directly to active threats · Security Operator · recommended",
                          "The experts also take the managed response actions themselves to contain threats."),
}


class MdrPermissionsScreen(StepScreen):
    STEP_ID = "mdr_permissions"
    BINDINGS = [Binding("o", "open_portal", "Open portal", id="mdr_permissions.open")]

    def compose_body(self) -> ComposeResult:
        step = self.step
        chosen = self._levels() or ()
        with VerticalScroll(id="mdr-permissions-scroll"):
            yield Label("Always required", classes="field-label")
            yield TickBox("Service provider access · required", value=True, disabled=True,
                          id="level-service_provider", classes="level", compact=True)
            yield Static(SERVICE_PROVIDER_TEXT, classes="role-grants")
            yield Label("Access levels (one or both)", classes="field-label")
            for level in ACCESS_LEVELS:
                label, grants = LEVELS[level]
                yield TickBox(label, value=level in chosen, id=f"level-{level}", classes="level", compact=True)
                yield Static(plain(grants), classes="role-grants")
            yield Static("", id="level-recorded")
            yield Static(plain(f"Then in the {step.link_label}: ", style="bold") + plain(step.portal_path),
                         id="portal-path")
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_recorded()
        self.query_one("#level-security_reader", Checkbox).focus()

    def _levels(self) -> tuple[str, ...] | None:
        mdr = self.wizard.flow.answers.mdr
        return mdr.access_levels if mdr is not None else None

    def gate_reason(self) -> str | None:
        """Next asks about a left-out Security Operator instead of being disabled."""
        return None

    @on(Checkbox.Changed, ".level")
    def _toggled(self, event: Checkbox.Changed) -> None:
        level = (event.checkbox.id or "").removeprefix("level-")
        if level not in ACCESS_LEVELS:
            return
        ticked = tuple(name for name in ACCESS_LEVELS if self.query_one(f"#level-{name}", Checkbox).value)
        if ticked == (self._levels() or ()):
            return  # a box set by code to what is recorded already
        if not ticked:
            self.notify("Keep at least one access level: Security Reader and/or Security Operator.",
                        severity="warning", markup=False)
            event.checkbox.value = True
            return
        if level == "security_operator" and not event.value:
            self._ask_operator_skip(ticked)
            return
        self._record(ticked, acknowledged=False)

    def _ask_operator_skip(self, without: tuple[str, ...], then: Callable[[], None] | None = None) -> None:
        """The skip dialog: skipping records ``without`` and the acknowledgement; anything else keeps or
        grants Security Operator; Esc (no answer) changes nothing."""
        info = catalogue().role("security_operator")

        def answered(decision: Acknowledged | bool | None) -> None:
            if decision is None:  # Esc or Cancel: nothing changes
                self._show_boxes()
                return
            if isinstance(decision, Acknowledged):
                self._record(without, acknowledged=True, reason=decision.reason, expires=decision.expires)
            else:
                self._record(tuple(dict.fromkeys((*without, "security_operator"))), acknowledged=False)
            if then is not None:
                then()

        heading = "Managed response actions the experts then cannot take themselves:"
        core = self.wizard.core
        self.app.push_screen(SkipRoleDialog("Security Operator", list(info.lost_actions),
                                            f"{info.lost_summary}\n{heading}", today=core.today(),
                                            validate=lambda reason, expires: core.check_acknowledgement(
                                                None, reason, expires)), answered)

    def _record(self, levels: tuple[str, ...], *, acknowledged: bool, reason: str = "",
                expires: date | None = None) -> None:
        info = catalogue().role("security_operator")
        details: dict[str, object] = {"access_levels": list(levels)}
        if "security_operator" not in levels:
            details.update(operator_skipped=True, acknowledged=acknowledged, lost=list(info.lost_actions))
            if acknowledged:
                details.update(reason=reason, expires=expires.isoformat() if expires else None)
        self.wizard.record_choice(self.STEP_ID, mdr_choices.access_levels(levels, acknowledged), **details)
        self._show_boxes()
        self._show_recorded()

    def _show_boxes(self) -> None:
        chosen = self._levels() or ()
        for level in ACCESS_LEVELS:
            box = self.query_one(f"#level-{level}", Checkbox)
            if box.value != (level in chosen):
                box.value = level in chosen

    def _show_recorded(self) -> None:
        mdr = self.wizard.flow.answers.mdr
        widget = self.query_one("#level-recorded", Static)
        if mdr is None or mdr.access_levels is None:
            widget.update(plain("Nothing recorded yet: tick the level(s) you chose in the portal.", style="italic"))
            return
        text = Text()
        if mdr.access_recorded is not None:
            text.append_text(plain("✔ Recorded by ", style="bold") + tenant(mdr.access_recorded.by, style="bold")
                             + plain(f" at {mdr.access_recorded.at}.", style="bold"))
        if mdr.operator_skipped:
            lost = catalogue().role("security_operator").lost_actions
            text.append_text(plain("\n⚠ Security Operator left out: the experts cannot "
                                   + ", ".join(item[0].lower() + item[1:] for item in lost) + ".", style="bold"))
            ack = mdr.operator_skip_acknowledged
            if ack is not None:
                text.append_text(plain(" Acknowledged by ", style="italic") + tenant(ack.by, style="italic")
                                 + plain(f" at {ack.at}.", style="italic"))
        widget.update(text)
        self.refresh_frame()

    def before_next(self) -> None:
        """Nothing ticked: say so. Security Operator left out without an acknowledgement: ask. Then on."""
        mdr = self.wizard.flow.answers.mdr
        if mdr is None or not mdr.access_levels:
            self.app.bell()
            self.notify("Tick the access level(s) you chose: Security Reader and/or Security Operator.",
                        severity="warning", markup=False)
            return
        if mdr.operator_skipped and mdr.operator_skip_acknowledged is None:
            self._ask_operator_skip(mdr.access_levels, then=self.before_next)
            return
        self.wizard.go_next()

    def action_open_portal(self) -> None:
        self.app.open_url(self.step.link)
