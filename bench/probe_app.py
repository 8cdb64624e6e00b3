"""Child process for the start-up figure: start a Textual app headless, report its first frame, exit.

``python bench/probe_app.py hello`` starts a bare hello-world app; ``python bench/probe_app.py dex-tui
ARGS...`` starts the wizard through the real command line (``dex_tui.cli.run(ARGS)``). Both go through
the same patched ``App.run`` (headless, 80x24) and the same hook on ``App._display``: the first frame
composed for the first interactive screen (the wizard's first step screen; the hello app's only
screen) writes ``READY <time.monotonic()>`` to file descriptor 1 and asks the app to exit. Textual
captures ``print`` while an app runs, hence the raw ``os.write``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Static


def _install_probe(is_target: Any) -> None:
    original_run = App.run
    original_display = App._display
    done = False

    def display(self: App[Any], screen: Any, renderable: Any) -> None:
        nonlocal done
        original_display(self, screen, renderable)
        if not done and renderable is not None and is_target(screen):
            done = True
            now = time.monotonic()
            modules = sorted({name for name in sys.modules if not name.startswith("_")})
            os.write(1, f"READY {now:.6f} {type(screen).__name__}\nMODULES {','.join(modules)}\n".encode())
            self.call_later(self.exit)

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
    if mode == "dex-tui":
        _install_probe(lambda screen: type(screen).__module__.startswith("screens."))
        from dex_tui.cli import run

        return run(args)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
