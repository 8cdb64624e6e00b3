"""Step 1: what will happen, what can and cannot be verified; choose service, cloud and tenant."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, Static

from dex_tui.clouds import CLOUD_NAMES, get_cloud
from dex_tui.errors import UsageError
from dex_tui.settings import _check_tenant
from screens.base import StepScreen
from screens.choices import ChoiceList, ChoicePicker
from screens.text import plain, tenant

SERVICE_LABELS = {
    "mdr": "Defender Experts MDR (today's setup)",
    "xdr": "Defender Experts for XDR (the 2022 preview flow)",
    "hunting": "Defender Experts for Hunting",
}
WHICH_SERVICE = ("MDR to onboard today; XDR to follow the 2022 preview documents; Hunting for proactive "
                 "threat hunting only.")
DETECT = "detect"

INTRO = (
    "Sign in, let the wizard check your tenant live (read-only), then walk through the Defender Experts "
    "settings. Progress is saved as you go: quit at any step and come back.\n"
    "✔ Checked live: licences, your roles, antivirus mode, the cloud, the experts' access and its "
    "conditional access policies.\n"
    "✎ You record (no public API shows them): the terms, the licence order, the roles or access levels "
    "you grant, contacts and exclusions."
)


class WelcomeScreen(StepScreen):
    STEP_ID = "welcome"
    AUTO_FOCUS = "#service"  # focused as the screen mounts: no second focus change and footer rebuild

    def compose_body(self) -> ComposeResult:
        wizard = self.wizard
        if wizard.settings.is_demo:
            yield Static(plain(f"DEMO MODE: a built-in fake tenant (scenario '{wizard.settings.demo}'). Nothing "
                               "leaves this machine. Press a to approve sign-in, p to play portal actions."),
                         id="demo-banner")
        if wizard.core.notice:
            yield Static(plain(wizard.core.notice), id="notice")
        with VerticalScroll(id="welcome-scroll", can_focus=False):  # its fields scroll it
            yield Static(plain(INTRO), id="intro")
            yield Label("Service", classes="field-label")
            yield ChoiceList([(label, service) for service, label in SERVICE_LABELS.items()],
                             value=wizard.flow.answers.service, id="service")
            yield Static(plain(WHICH_SERVICE, style="italic"), id="which-service")
            yield Label("Cloud", classes="field-label")
            options = [("Detect from the tenant (recommended)", DETECT)]
            options += [(get_cloud(name).label, name) for name in CLOUD_NAMES]
            yield ChoicePicker(options, value=wizard.core.cloud_choice or DETECT, id="cloud")
            yield Static("", id="availability")
            yield Label("Tenant (ID or domain; empty = your home tenant)", classes="field-label")
            placeholder = "contoso.onmicrosoft.com"
            if wizard.core.demo is not None:
                placeholder = f"the demo tenant, {wizard.core.demo.initial_domain}"
            yield Input(value=wizard.core.tenant_choice or "", placeholder=placeholder, id="tenant",
                        compact=True, disabled=wizard.settings.is_demo)
            yield Static("", id="tenant-error")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#tenant", Input).cursor_blink = False
        self._show_availability()

    def _chosen_service(self) -> str:
        return self.query_one("#service", ChoiceList).value

    def _chosen_cloud(self) -> str | None:
        value = self.query_one("#cloud", ChoicePicker).value
        return None if value == DETECT else value

    @on(ChoiceList.Changed, "#service")
    @on(ChoicePicker.Changed, "#cloud")
    def _show_availability(self) -> None:
        service, cloud = self._chosen_service(), self._chosen_cloud()
        widget = self.query_one("#availability", Static)
        if cloud is None:
            widget.update(Text("The cloud is detected from the tenant after sign-in.", style="italic"))
        elif get_cloud(cloud).offers(service):
            widget.update(Text(f"{SERVICE_LABELS[service].split(' (')[0]} is offered in {get_cloud(cloud).label}.",
                               style="italic"))
        else:
            widget.update(Text(f"⚠ {SERVICE_LABELS[service].split(' (')[0]} is not offered in "
                               f"{get_cloud(cloud).label}; the checks will say so.", style="bold"))

    def before_next(self) -> None:
        field = self.query_one("#tenant", Input)
        value = field.value.strip()
        if value:
            try:
                value = _check_tenant(value, "Tenant")
            except UsageError as error:
                self.query_one("#tenant-error", Static).update(tenant(error.explanation, style="bold"))
                field.focus()
                return
        if self.wizard.choose_target(service=self._chosen_service(), cloud=self._chosen_cloud(), tenant=value or None):
            self.wizard.go_next()
