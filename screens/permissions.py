"""Step 6 (XDR): choose the roles the experts get; skipping an optional one needs an acknowledgement.

Service provider access and Security reader are fixed. Security operator (recommended) and
Security administrator (2022 preview only) are ticked or skipped; a skip opens a dialog naming what the
experts then cannot do (text from the shared roles catalogue, the same the checks and report use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Label, Static

from dex_tui.answers import OPTIONAL_ROLES
from dex_tui.catalogue import catalogue
from dex_tui.flow import SKIP_ACKNOWLEDGEMENT
from screens.base import StepScreen, role_warning
from screens.dialogs import Acknowledged, SkipRoleDialog
from screens.scrolling import ReadingText
from screens.text import plain
from screens.toggles import TickBox

SERVICE_PROVIDER_TEXT = ("Lets the experts sign in to your tenant from Microsoft's own tenant (cross-tenant "
                         "access) and work with the roles below.")


def role_label(role: str, granted: bool | None) -> str:
    """The checkbox label, saying the decision in words too (colour alone is not enough)."""
    info = catalogue().role(role)
    state = {True: "grant", False: "skipped", None: "not decided"}[granted]
    return f"{info.label} · {info.level} · {state}"


def grants_text(role: str, roles: Mapping[str, bool | None]) -> str:
    """What ``role`` gives the experts, in the catalogue's words; Security administrator's once Security
    operator is skipped (the seed describes it as operator's permissions plus more, so not "on top of")."""
    info = catalogue().role(role)
    if roles.get("security_operator") is False and info.grants_without_operator:
        return info.grants_without_operator
    return info.grants


class PermissionsScreen(StepScreen):
    STEP_ID = "permissions"
    BINDINGS = [
        Binding("o", "open_portal", "Open portal", id="permissions.open"),
    ]

    def compose_body(self) -> ComposeResult:
        roles = catalogue().roles
        answers = self.wizard.flow.answers
        step = self.step
        with VerticalScroll(id="permissions-scroll", can_focus=False):
            yield Label("Always granted", classes="field-label")
            yield TickBox("Service provider access · required", value=True, disabled=True,
                           id="role-service_provider", classes="role", compact=True)
            yield Static(SERVICE_PROVIDER_TEXT, classes="role-grants")
            reader = roles["security_reader"]
            yield TickBox(f"{reader.label} · {reader.level}", value=True, disabled=True,
                           id="role-security_reader", classes="role", compact=True)
            yield Static(plain(reader.grants), classes="role-grants")
            yield Label("Optional", classes="field-label")
            yield Static(plain("Space ticks a role. Unticking one, or leaving it unticked, asks you to "
                               "acknowledge what the experts then cannot do.", style="italic"), classes="hint")
            for name in OPTIONAL_ROLES:
                yield TickBox(role_label(name, answers.roles.get(name)), value=answers.roles.get(name) is True,
                               id=f"role-{name}", classes="role", compact=True)
                yield Static(plain(grants_text(name, answers.roles)), classes="role-grants", id=f"grants-{name}")
            yield Static("", id="role-warnings")
            yield ReadingText(plain(f"Then in the {step.link_label}: ", style="bold") + plain(step.portal_path),
                              id="portal-path")
            yield self.demo_status()

    def on_mount(self) -> None:
        super().on_mount()
        self._show_warnings()
        self.query_one("#role-security_operator", Checkbox).focus()

    def gate_reason(self) -> str | None:
        """Undecided roles do not block: Next asks about each unticked one."""
        return None

    @on(Checkbox.Changed, ".role")
    def _toggled(self, event: Checkbox.Changed) -> None:
        role = (event.checkbox.id or "").removeprefix("role-")
        if role not in OPTIONAL_ROLES:
            return
        if event.value:
            self._set_role(role, True)
        else:
            self._ask_skip(role)

    def _ask_skip(self, role: str, then: Callable[[], None] | None = None) -> None:
        info = catalogue().role(role)
        heading = ("Response actions the experts then cannot take themselves:" if info.lost_actions
                   else f"What the 2022 preview says {info.label} adds, which the experts then do not do:")

        def answered(decision: Acknowledged | bool | None) -> None:
            if decision is None:  # cancelled: nothing changes, and Next does not go on
                self._show_role(role)
                return
            if isinstance(decision, Acknowledged):
                self._set_role(role, False, reason=decision.reason, expires=decision.expires)
            else:
                self._set_role(role, True)
            if then is not None and self.wizard.flow.answers.roles.get(role) is not None:
                then()

        core = self.wizard.core
        self.app.push_screen(SkipRoleDialog(info.label, list(info.lost_actions or info.adds),
                                            f"{info.lost_summary}\n{heading}", today=core.today(),
                                            validate=lambda reason, expires: core.check_acknowledgement(
                                                None, reason, expires)), answered)

    def _set_role(self, role: str, granted: bool, *, reason: str = "", expires: date | None = None) -> None:
        self.wizard.decide_role(role, granted, reason=reason, expires=expires)
        self._show_role(role)

    def _show_role(self, role: str) -> None:
        """The box and its label as the answers hold the decision (also after a cancelled dialog)."""
        granted = self.wizard.flow.answers.roles.get(role)
        box = self.query_one(f"#role-{role}", Checkbox)
        with box.prevent(Checkbox.Changed):
            box.value = granted is True
        box.label = role_label(role, granted)
        roles = self.wizard.flow.answers.roles
        for name in OPTIONAL_ROLES:
            self.query_one(f"#grants-{name}", Static).update(plain(grants_text(name, roles)))
        self._show_warnings()

    def _show_warnings(self) -> None:
        answers = self.wizard.flow.answers
        text = Text()
        for role in answers.skipped_roles():
            ack = answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role])
            if text.plain:
                text.append("\n")
            text.append_text(role_warning(role, ack))
        widget = self.query_one("#role-warnings", Static)
        widget.update(text)
        widget.display = bool(text.plain)

    def before_next(self) -> None:
        """Ask about each optional role left unticked and undecided, then move on."""
        undecided = [role for role in OPTIONAL_ROLES if self.wizard.flow.answers.roles.get(role) is None]
        if undecided:
            self._ask_skip(undecided[0], then=self.before_next)
            return
        self.wizard.go_next()

    def action_open_portal(self) -> None:
        self.app.open_url(self.step.link)
