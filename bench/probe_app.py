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
from typing import Any

if sys.argv[1:2] == ["dex-tui"]:  # as the dex-tui command does first (dex_tui.start): nothing imported yet
    from dex_tui.collector import hold

    hold()

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Static  # noqa: E402


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


def main(argv: list[str]) -> int:
    mode, args = argv[0], argv[1:]
    if mode == "hello":
        _install_probe(lambda screen: True)
        HelloApp().run()
        return 0
    if mode == "same-screen":  # its widgets are imported for it alone: hello-world does not pay for them
        from bench.probe_same_screen import SameScreen, SameScreenApp

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
