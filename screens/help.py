"""Help for the current step (F1 or ?): the step's help text from ``flow.toml`` and the keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Markdown, Static

from dex_tui.flow import Flow, Step
from screens.scrolling import ReadingScroll

# Keys that are not bindings of the wizard (Textual's focus and button keys, its command palette).
_PLAIN_KEYS = (("Tab, Shift+Tab", "move between fields and buttons"), ("Enter, Space", "press a button, tick a box"),
               ("Up, Down, then Enter or Space", "choose in a list (the service, the report's format)"),
               ("Left, Right", "step through the choices of a one-line picker (the cloud: ◀ … ▶)"))
_PALETTE = ("Ctrl+P", "command palette: re-run checks, export the report, restart")
_NAMES = {"escape": "Esc", "question_mark": "?", "space": "Space", "enter": "Enter"}


def key_name(key: str) -> str:
    """A binding's key as the help names it: ``ctrl+n`` -> ``Ctrl+N``, ``escape`` -> ``Esc``."""
    return "+".join(_NAMES.get(part, part.upper() if len(part) <= 2 else part.capitalize())
                    for part in key.split("+"))


def key_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """One row per action that has help words (the binding's tooltip), its keys joined: the help is
    drawn from the real bindings, so it cannot name a key that does nothing."""
    rows: dict[str, tuple[list[str], str]] = {}
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.tooltip:
            continue
        keys, _ = rows.setdefault(binding.action, ([], binding.tooltip))
        keys.extend(key_name(k.strip()) for k in binding.key.split(","))
    return [(", ".join(keys), words) for keys, words in rows.values()]


def step_key_rows(screen: Screen[Any]) -> list[tuple[str, str]]:
    """The keys a step screen adds to the shared ones, as its footer shows them (only those that do
    something now)."""
    merged = type(screen)._merged_bindings
    rows = []
    for bindings in (merged.key_to_bindings.values() if merged else []):
        for binding in bindings:
            if (binding.show and not (binding.id or "").startswith("step.")
                    and screen.check_action(binding.action, ()) is not False):
                rows.append((key_name(binding.key), binding.description))
    return rows


def keys_table(step_bindings: Iterable[BindingType], app_bindings: Iterable[BindingType],
               own: Iterable[tuple[str, str]] = ()) -> str:
    """The Markdown tables of the keys: those of this step (``own``), then those every step shares."""
    mine = list(own)
    text = ""
    if mine:
        text += "\nOn this step:\n\n| Key | What it does |\n|---|---|\n" + "".join(f"| {k} | {w} |\n" for k, w in mine)
        text += "\nOn every step:\n"
    rows = [*_PLAIN_KEYS, *key_rows(step_bindings), _PALETTE, *key_rows(app_bindings)]
    return text + "\n| Key | What it does |\n|---|---|\n" + "".join(f"| {k} | {w} |\n" for k, w in rows)


def demo_keys(flow: Flow) -> str:
    """The demo mode's keys: ``a`` on the sign-in, and the demo action of each step that has one."""
    steps = [step for step in flow.steps if step.demo is not None]
    text = "\n**Demo mode keys**: **a** approves the pending device-code sign-in"
    if steps:
        titles = [step.title for step in steps]
        where = ", ".join(titles[:-1]) + f" and {titles[-1]}" if len(titles) > 1 else titles[0]
        actions = ", ".join(dict.fromkeys(step.demo.label.lower() for step in steps if step.demo))
        text += (f"; **p** on the {where} steps does in the fake tenant what you would do in the portal "
                 f"({actions}), so the live checks see the change")
    return text + ".\n"


class HelpScreen(ModalScreen[None]):
    """A scrollable help dialog for one step."""

    BINDINGS = [Binding("escape,f1,question_mark", "close", "Close help", id="help.close")]
    AUTO_FOCUS = "#help-body"

    def __init__(self, step: Step, demo: str, keys: str = "") -> None:
        """``demo``: the demo mode's keys (:func:`demo_keys`; empty outside demo mode); ``keys``: the
        Markdown table of the keys (:func:`keys_table`)."""
        super().__init__(classes="dialog help-dialog")
        self.step = step
        self.demo = demo
        self.keys = keys

    def compose(self) -> ComposeResult:
        text = f"{self.step.help}\n\n### Keys\n{self.keys}"
        if self.demo:
            text += "\n" + self.demo
        with Vertical(classes="dialog-box"):
            yield Static(f"Help: {self.step.title}", classes="dialog-title")
            with ReadingScroll(classes="dialog-body", early_focus=True, id="help-body"):
                yield Markdown(text, id="help-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="help-close", compact=True)

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
