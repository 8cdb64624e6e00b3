"""Which screen shows which step (ids from ``assets/flow.toml``), each module imported when first shown.

Only the first screen's module is needed to start the wizard; the others (and, through them, sign-in,
Graph and the checks) load on first use, or earlier in the background (:func:`preload_step_screens`)
while the operator reads the first screen.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from screens.base import StepScreen

_WHERE: dict[str, tuple[str, str]] = {
    "welcome": ("screens.welcome", "WelcomeScreen"),
    "signin": ("screens.sign_in", "SignInScreen"),
    "eligibility": ("screens.eligibility", "EligibilityScreen"),
    "terms": ("screens.terms", "TermsScreen"),
    "license": ("screens.license", "LicenseScreen"),
    "permissions": ("screens.permissions", "PermissionsScreen"),
    "access": ("screens.access", "AccessScreen"),
    "review": ("screens.review", "ReviewScreen"),
}
# What the later steps and dialogs import, heaviest first (MSAL, requests, the checks, Markdown help).
_PRELOAD = ("dex_tui.auth", "dex_tui.runtime", "dex_tui.engine", "dex_tui.report", "screens.dialogs",
            "screens.help", "screens.export", "screens.checks_view")


class _StepScreens(Mapping[str, "type[StepScreen]"]):
    """``step id -> screen class``, importing a screen's module on first lookup."""

    def __getitem__(self, step_id: str) -> type[StepScreen]:
        module, name = _WHERE[step_id]
        screen: type[StepScreen] = getattr(importlib.import_module(module), name)
        return screen

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


STEP_SCREENS: Mapping[str, type[StepScreen]] = _StepScreens()


def preload_step_screens() -> threading.Thread:
    """Import every other step's module in a daemon thread, so the next step opens without waiting
    on imports, then set everything loaded aside from the cyclic garbage collector (``gc.freeze``):
    modules, classes and functions live as long as the process, and a full collection walking the
    ~100,000 objects they make holds the UI thread for ~40 ms (a stall while the checks run).
    Returns the started thread."""

    def load() -> None:
        for module in (*_PRELOAD, *(where[0] for where in _WHERE.values())):
            importlib.import_module(module)
        gc.freeze()

    thread = threading.Thread(target=load, name="dex-preload", daemon=True)
    thread.start()
    return thread
