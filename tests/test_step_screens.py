"""The screens and the flow's steps agree: every step has a screen that shows it, every step screen is
named by a step, and a step that names no screen is shown by the generic one with its own keys."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import screens
from dex_tui.flow import Flow, default_flow
from screens.base import StepScreen
from screens.generic import GenericStepScreen
from screens.steps import screen_class
from tests.test_session import flow_with_contacts


def step_screen_classes() -> dict[str, type[StepScreen]]:
    """Every concrete step screen in the ``screens`` package (one with a step id), by step id."""
    found: dict[str, type[StepScreen]] = {}
    for info in pkgutil.iter_modules(screens.__path__):
        module = importlib.import_module(f"screens.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, StepScreen) and value.STEP_ID \
                    and value.__module__ == module.__name__:
                assert value.STEP_ID not in found, f"two screens show step {value.STEP_ID!r}"
                found[value.STEP_ID] = value
    return found


def test_every_step_has_a_screen_and_every_screen_a_step() -> None:
    flow = default_flow()
    classes = step_screen_classes()
    for step in flow.steps:
        shown_by = screen_class(step)
        assert shown_by.STEP_ID == step.id, step.id
    assert set(classes) <= set(flow.ids()), f"screens without a step: {sorted(set(classes) - set(flow.ids()))}"
    assert {screen_class(step) for step in flow.steps} >= set(classes.values())


def test_a_step_naming_another_steps_screen_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "assets" / "flow.toml").read_text(encoding="utf-8")
    path = tmp_path / "swapped.toml"
    path.write_text(text.replace('screen = "screens.terms:TermsScreen"', 'screen = "screens.license:LicenseScreen"'),
                    encoding="utf-8")
    with pytest.raises(LookupError, match="names screens.license:LicenseScreen, which shows step 'license'"):
        screen_class(Flow.load(path).get("terms"))


def test_a_new_step_is_shown_by_the_generic_screen(tmp_path: Path) -> None:
    step = flow_with_contacts(tmp_path).get("contacts")
    shown_by = screen_class(step)
    assert issubclass(shown_by, GenericStepScreen) and shown_by.STEP_ID == "contacts"
    assert shown_by is screen_class(step)  # one class per step


def test_the_demo_key_is_drawn_from_the_flow() -> None:
    for step in default_flow().steps:
        bindings = [b for b in screen_class(step)._merged_bindings.key_to_bindings.get("p", [])] \
            if screen_class(step)._merged_bindings else []
        if step.demo is None:
            assert not any(b.action == "demo_action" for b in bindings), step.id
        else:
            assert [(b.action, b.description) for b in bindings] == [("demo_action", step.demo.label)], step.id


def test_the_help_keys_are_the_real_bindings() -> None:
    from textual.binding import Binding

    from screens.app import WizardApp
    from screens.help import key_rows, keys_table

    rows = key_rows(StepScreen.BINDINGS)
    assert ("F1, ?", "this help") in rows and ("Ctrl+N", "next step (when allowed)") in rows
    assert ("Ctrl+Q", "quit (asks first; your progress is kept)") in key_rows(WizardApp.BINDINGS)
    without_next = [b for b in StepScreen.BINDINGS if not (isinstance(b, Binding) and b.action == "next")]
    assert "Ctrl+N" not in keys_table(without_next, WizardApp.BINDINGS)
    assert "| Ctrl+N |" in keys_table(StepScreen.BINDINGS, WizardApp.BINDINGS)
