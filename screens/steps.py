"""Which screen shows which step: the ``screen`` each step names in its flow file, its module imported
when first shown.

Only the first screen's module is needed to start the wizard; the others (and, through them, sign-in,
Graph and the checks) load on first use, or earlier in the background (:func:`preload_step_screens`)
while the operator reads the first screen. A step that names no screen is shown by the generic step
screen (``screens.generic``), as a class of its own so its key bindings are its step's.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING

from dex_tui.flow import Flow, Step, default_flow

if TYPE_CHECKING:
    from screens.base import StepScreen

# What the later steps and dialogs import, heaviest first (MSAL, requests, the checks, Markdown help).
_PRELOAD = ("dex_tui.auth", "dex_tui.runtime", "dex_tui.engine", "dex_tui.report", "screens.dialogs",
            "screens.help", "screens.export", "screens.checks_view")


def _named_class(where: str) -> type[StepScreen]:
    from screens.base import StepScreen

    module, name = where.split(":")
    found = getattr(importlib.import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, StepScreen)):
        raise LookupError(f"{where} is not a step screen")
    return found


@cache
def screen_class(step: Step) -> type[StepScreen]:
    """The class that shows ``step``: the one it names, which must declare that step's id; a shared
    screen (one whose ``STEP_ID`` is empty, such as the generic one) is given a subclass for the step."""
    found = _named_class(step.screen)
    if found.STEP_ID == step.id:
        return found
    if found.STEP_ID:
        raise LookupError(f"step {step.id!r} names {step.screen}, which shows step {found.STEP_ID!r}")
    return type(f"{found.__name__}_{step.id}", (found,), {"STEP_ID": step.id, "FLOW_STEP": step})


def screen_for(step: Step) -> StepScreen:
    """A new screen for ``step``."""
    return screen_class(step)()


class _StepScreens(Mapping[str, "type[StepScreen]"]):
    """``step id -> screen class`` for the shipped flow, importing a screen's module on first lookup."""

    def __getitem__(self, step_id: str) -> type[StepScreen]:
        return screen_class(default_flow().get(step_id))

    def __iter__(self) -> Iterator[str]:
        return iter(default_flow().ids())

    def __len__(self) -> int:
        return len(default_flow().steps)


STEP_SCREENS: Mapping[str, type[StepScreen]] = _StepScreens()


def preload_step_screens(flow: Flow | None = None) -> threading.Thread:
    """Import every other step's module in a daemon thread, so the next step opens without waiting
    on imports, then set everything loaded aside from the cyclic garbage collector (``gc.freeze``):
    modules, classes and functions live as long as the process, and a full collection walking the
    ~100,000 objects they make holds the UI thread for ~40 ms (a stall while the checks run).
    Returns the started thread."""
    steps = (flow or default_flow()).steps

    def load() -> None:
        for module in (*_PRELOAD, *(step.screen.split(":")[0] for step in steps)):
            importlib.import_module(module)
        gc.freeze()

    thread = threading.Thread(target=load, name="dex-preload", daemon=True)
    thread.start()
    return thread
