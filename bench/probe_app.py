"""Child process for the start-up figure: start a Textual app headless, report its first screen, exit.

``python bench/probe_app.py hello`` starts a bare hello-world app; ``python bench/probe_app.py dex-tui
ARGS...`` starts the wizard through the real command line (``dex_tui.cli.run(ARGS)``);
``python bench/probe_app.py same-screen`` starts a plain Textual app showing a copy of the wizard's
first screen (same widgets, texts of the same length, the wizard's stylesheet; no dex-tui code), to
tell the cost of that screen's widgets from the cost of dex-tui's own code. All go through
the same patched ``App.run`` (headless, 80x24) and the same hook on ``App._display``. The first
interactive screen is the first screen (the wizard's first step screen; the hello app's only screen)
that is mounted, painted (its first frame composed) and then idle: every message already queued for
the app and for the screen's widgets has been processed, the same test Textual's own ``Pilot`` uses
to wait for a screen. Then ``READY <idle time> <screen> <paint time>`` (``time.monotonic()``) is
written to file descriptor 1 and the app exits. Textual captures ``print`` while an app runs, hence
the raw ``os.write``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, RadioButton, RadioSet, Select, Static

WIZARD_CSS = str(Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss")


def _install_probe(is_target: Any) -> None:
    original_run = App.run
    original_display = App._display
    done = False

    def display(self: App[Any], screen: Any, renderable: Any) -> None:
        nonlocal done
        original_display(self, screen, renderable)
        if not done and renderable is not None and is_target(screen) and screen.is_mounted:
            done = True
            painted = time.monotonic()
            widgets = [self, *screen.walk_children(with_self=True)]
            waiting = len(widgets)

            def processed() -> None:
                nonlocal waiting
                waiting -= 1
                if waiting == 0:
                    idle = time.monotonic()
                    modules = sorted({name for name in sys.modules if not name.startswith("_")})
                    os.write(1, f"READY {idle:.6f} {type(screen).__name__} {painted:.6f}\n"
                                f"MODULES {','.join(modules)}\n".encode())
                    self.exit()

            for widget in widgets:
                if not widget.call_later(processed):
                    waiting -= 1
            if waiting == 0:
                waiting = 1
                processed()

    def run(self: App[Any], **kwargs: Any) -> Any:
        kwargs.update(headless=True, size=(80, 24))
        return original_run(self, **kwargs)

    App._display = display  # type: ignore[method-assign]
    App.run = run  # type: ignore[method-assign]


class HelloApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("Hello, world")


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
        yield Header(icon="≡")
        with Vertical(id="step"):
            yield Static("Choose the service, the cloud and the tenant, and see what this wizard can and cannot "
                         "verify.", id="purpose")
            with Vertical(id="body"), VerticalScroll(id="welcome-scroll", can_focus=False):
                yield Static(INTRO, id="intro")
                yield Label("Service", classes="field-label")
                with RadioSet(id="service"):
                    yield RadioButton("Defender Experts MDR (today's setup)")
                    yield RadioButton("Defender Experts for XDR (the 2022 preview flow)", value=True)
                    yield RadioButton("Defender Experts for Hunting")
                yield Static("MDR to onboard today; XDR to follow the 2022 preview documents; Hunting for "
                             "proactive threat hunting only.", id="which-service")
                yield Label("Cloud", classes="field-label")
                clouds = ["Detect from the tenant (recommended)", "Commercial", "US Government Community (GCC)",
                          "US Government GCC High", "US Government DoD", "China (operated by 21Vianet)"]
                yield Select([(label, str(i)) for i, label in enumerate(clouds)], value="0", allow_blank=False,
                             id="cloud", compact=True)
                yield Static("The cloud is detected from the tenant after sign-in.", id="availability")
                yield Label("Tenant (ID or domain; empty = your home tenant)", classes="field-label")
                yield Input(placeholder="contoso.onmicrosoft.com", id="tenant", compact=True)
                yield Static("", id="tenant-error")
            yield Static("", id="skip-warning")
            with Horizontal(id="nav"):
                back = Button("◀ Back", id="back", compact=True)
                back.display = False
                yield back
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


def main(argv: list[str]) -> int:
    mode, args = argv[0], argv[1:]
    if mode == "hello":
        _install_probe(lambda screen: True)
        HelloApp().run()
        return 0
    if mode == "same-screen":
        _install_probe(lambda screen: isinstance(screen, SameScreen))
        SameScreenApp().run()
        return 0
    if mode == "dex-tui":
        _install_probe(lambda screen: type(screen).__module__.startswith("screens."))
        import dex_tui.cli

        dex_tui.cli.missing_terminal = lambda: None  # headless here: the patched App.run needs no terminal
        return dex_tui.cli.run(args)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
