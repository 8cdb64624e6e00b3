"""The copy of the wizard's first screen that ``bench/probe_app.py same-screen`` starts: the same
widgets (Textual's, and the wizard's own light ones from screens/choices.py and screens/chrome.py, which
import nothing of dex-tui), texts of the same length and the wizard's stylesheet, and none of the
wizard's code: no session, settings, flow or CSS cache. What it costs over hello-world is what the
first screen's widgets cost; what dex-tui costs over it is dex-tui's own."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from screens.choices import ChoiceList, ChoicePicker
from screens.chrome import StepHeader

WIZARD_CSS = str(Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss")


INTRO = ("Sign in, let the wizard check your tenant live (read-only), then walk through the Defender Experts "
         "settings. Progress is saved as you go: quit at any step and come back.\n"
         "✔ Checked live: licences, your roles, antivirus mode, the cloud, the experts' access and its "
         "conditional access policies.\n"
         "✎ You record (no public API shows them): the terms, the licence order, the roles or access levels "
         "you grant, contacts and exclusions.")


class SameScreen(Screen[None]):
    """The wizard's welcome step (screens/base.py + screens/welcome.py, not in demo mode), copied: the
    three services and the line on which to choose, the cloud, the availability line, the tenant."""

    AUTO_FOCUS = "#service"  # as the welcome: focused as the screen mounts
    BINDINGS = [Binding("escape", "back", "Back"), Binding("ctrl+n", "next", "Next"), Binding("f1", "help", "Help"),
                Binding("question_mark", "help", "Help", show=False)]

    def compose(self) -> ComposeResult:
        yield StepHeader(icon="≡")
        with Vertical(id="step"):
            yield Static("Choose the service, the cloud and the tenant, and see what this wizard can and cannot "
                         "verify.", id="purpose")
            with Vertical(id="body"), VerticalScroll(id="welcome-scroll", can_focus=False):
                yield Static(INTRO, id="intro")
                yield Label("Service", classes="field-label")
                yield ChoiceList([("Defender Experts MDR (today's setup)", "mdr"),
                                  ("Defender Experts for XDR (the 2022 preview flow)", "xdr"),
                                  ("Defender Experts for Hunting", "hunting")], value="xdr", id="service")
                yield Static("MDR to onboard today; XDR to follow the 2022 preview documents; Hunting for "
                             "proactive threat hunting only.", id="which-service")
                yield Label("Cloud", classes="field-label")
                clouds = ["Detect from the tenant (recommended)", "Commercial", "US Government Community (GCC)",
                          "US Government GCC High", "US Government DoD", "China (operated by 21Vianet)"]
                yield ChoicePicker([(label, str(i)) for i, label in enumerate(clouds)], value="0", id="cloud")
                yield Static("The cloud is detected from the tenant after sign-in.", id="availability")
                yield Label("Tenant (ID or domain; empty = your home tenant)", classes="field-label")
                yield Input(placeholder="contoso.onmicrosoft.com", id="tenant", compact=True)
                yield Static("", id="tenant-error")
            yield Static("", id="skip-warning")
            with Horizontal(id="nav"):  # the first step has no Back button
                yield Static("", id="gate")
                yield Button("Next ▶", id="next", compact=True, variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tenant", Input).cursor_blink = False


class SameScreenApp(App[None]):
    CSS_PATH = WIZARD_CSS
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True),
                Binding("ctrl+c", "quit", "Save and exit", show=False, priority=True)]

    def get_default_screen(self) -> Screen[None]:
        return SameScreen()
