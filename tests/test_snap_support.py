"""Shared set-up of the SVG snapshot tests (tests/test_snap_*.py; no tests here).

Every snapshot runs the real wizard on a fake demo tenant and walks it with the keyboard to the screen
it shows. What makes the pictures the same at every run:

- a frozen clock and timestamp (``make_app``: countdowns and "Checked at"/"Accepted at" never move);
- animation off (``TEXTUAL_ANIMATIONS=none`` from conftest, and demo mode sets ``animation_level``),
  ``TZ=UTC`` (conftest), a fixed terminal size per test, no blinking cursor (the wizard's inputs
  set ``cursor_blink=False``);
- the state directory is the relative path ``state`` inside the test's own temporary working
  directory, so the review step shows ``state/audit/demo-<scenario>.jsonl``, never a temporary path;
- the walk waits for what the thread workers post (the sign-in, every check, the first watch round)
  before the picture is taken, and the picture is refused while a toast is showing (toasts expire by
  wall-clock time).

Deep steps are reached the way a returning operator reaches them (``start=STEP``): the answers up to
that step are saved as the wizard's own progress file, the wizard resumes, signs in and continues
there. That costs one sign-in instead of a walk through every step (tests/test_wizard_walk.py walks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dex_tui.answers import Acknowledgement, Answers, Confirmation
from dex_tui.demo import load_scenario
from dex_tui.flow import SKIP_ACKNOWLEDGEMENT, steps_for
from dex_tui.progress import Progress, ProgressStore, tenant_key
from screens.app import WizardApp
from tests.test_wizard_support import NOW, make_app, reach, shown, wait_for

SIZES: dict[str, tuple[int, int]] = {"80x24": (80, 24), "120x40": (120, 40)}
SKIP_REASON = tuple("SOCacts")  # typed into the skip dialog (no spaces: one key each)
STATE_DIR = Path("state")  # relative: the picture must not show the test's temporary directory

Drive = Callable[[WizardApp, Pilot[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Choices:
    """The answers saved for a resumed wizard: the service, the optional roles (granted, or skipped
    with an acknowledgement), and whether the licence order was confirmed."""

    operator: bool = True
    administrator: bool = True
    confirm_licence: bool = True
    service: str = "xdr"


def shoot(request: pytest.FixtureRequest, scenario: str, size: str, drive: Drive | None = None, *,
          start: str | None = None, choices: Choices = Choices(), approval: str | None = None,
          **knobs: Any) -> bool:
    """Run the wizard on ``scenario`` at ``size`` ("80x24" or "120x40"), let ``drive`` take it to the
    screen to show, and compare the picture with the test's committed snapshot.

    ``start`` resumes at that step with the answers ``choices`` give up to it (signed in, settled)
    before ``drive`` runs. ``knobs`` go to the scenario.
    """
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    monkeypatch.setattr("socket.gethostname", lambda: "dex-host")  # the export dialog names the host
    if start is not None:
        save_progress(scenario, start, choices)
    app = make_app(STATE_DIR, scenario, approval=approval, no_wait=True, **knobs)
    return compare_app(request, app, size, start, drive)


def compare_app(request: pytest.FixtureRequest, app: Any, size: str, start: str | None,
                drive: Drive | None) -> bool:
    """Take ``app`` to ``start`` (resumed there) or to Welcome, let ``drive`` act, and compare the
    picture at ``size`` with the test's committed snapshot (no toast may be showing)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        if start is not None:
            await resume(app, pilot, start)
        else:
            await reach(app, pilot, "welcome")
        if drive is not None:
            await drive(app, pilot)
        await pilot.pause()
        toasts = list(app._notifications)  # no public accessor; a toast expires by wall clock
        assert not toasts, f"a toast is showing at snapshot time: {[t.message for t in toasts]}"

    snap_compare = request.getfixturevalue("snap_compare")
    return bool(snap_compare(app, terminal_size=SIZES[size], run_before=run_before))


def answers_before(step: str, choices: Choices, operator: str) -> Answers:
    """The answers a walk with ``choices`` has recorded when it arrives at ``step``."""
    order = [s.id for s in steps_for(choices.service)]
    reached = order.index(step)
    done = set(order[:reached])
    confirmed = Confirmation(by=operator, at=NOW)
    answers = Answers(service=choices.service)
    if "terms" in done:
        answers = answers.confirmed("terms", confirmed)
    if "license" in done and choices.confirm_licence:
        answers = answers.confirmed("license", confirmed)
    if "permissions" in done:
        granted = {"security_operator": choices.operator, "security_administrator": choices.administrator}
        answers = replace(answers, roles=dict(granted), acknowledgements={
            SKIP_ACKNOWLEDGEMENT[role]: Acknowledgement(SKIP_ACKNOWLEDGEMENT[role], operator, NOW, "".join(SKIP_REASON))
            for role, grant in granted.items() if not grant})
    return answers


def save_progress(scenario: str, step: str, choices: Choices) -> None:
    """Save the wizard's progress file as if the operator had quit at ``step``."""
    operator = load_scenario(scenario).operator.upn
    order = [s.id for s in steps_for(choices.service)]
    store = ProgressStore(STATE_DIR, tenant_key(None, scenario), clock=lambda: NOW)
    store.save(Progress(step=step, answers=answers_before(step, choices, operator),
                        completed=tuple(order[:order.index(step)])))


async def resume(app: WizardApp, pilot: Pilot[Any], step: str) -> None:
    """The resumed wizard opens on Sign in: sign in, Continue, and settle on ``step``."""
    assert app.core.resume_to == step, f"the saved progress did not resume at {step!r}"
    await reach(app, pilot, "signin")
    await _settle(app, pilot, "signin")
    await pilot.press("ctrl+n")
    await reach(app, pilot, step)
    await _settle(app, pilot, step)


def chain(*drives: Drive) -> Drive:
    """One drive doing ``drives`` in turn."""

    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        for each in drives:
            await each(app, pilot)

    return drive


def keys(*pressed: str) -> Drive:
    """Press keys, then let the app settle."""

    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        await pilot.press(*pressed)
        await pilot.pause()

    return drive


def until(condition: Callable[[WizardApp], bool], timeout: float = 10.0) -> Drive:
    """Wait (bounded) until ``condition(app)`` holds."""

    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: condition(app), timeout=timeout)
        await pilot.pause()

    return drive


def dialog(screen_type: type) -> Drive:
    """Wait until a dialog of ``screen_type`` is on top."""
    return until(lambda app: shown(app, screen_type))


WALKABLE = ("welcome", "signin", "eligibility", "terms")  # deeper steps: ``shoot(start=...)``


def walk(target: str) -> Drive:
    """Walk with the keyboard from Welcome to ``target`` (one of WALKABLE), and wait there until the
    step shows its data (signed in, every check reported)."""
    if target not in WALKABLE:
        raise ValueError(f"walk reaches {', '.join(WALKABLE)}; resume deeper steps with start={target!r}")

    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        while True:
            step = app.flow.step
            await reach(app, pilot, step)
            await _settle(app, pilot, step)
            if step == target:
                return
            await _leave(app, pilot, step)

    return drive


async def _settle(app: WizardApp, pilot: Pilot[Any], step: str) -> None:
    if step == "signin":
        await wait_for(pilot, lambda: getattr(app.screen, "state", "") == "signed_in", timeout=10)
    if step in ("signin", "eligibility", "review"):
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
    if step in ("license", "access"):
        await wait_for(pilot, lambda: getattr(app.screen, "rounds", 0) >= 1, timeout=10)
    await pilot.pause()


async def _leave(app: WizardApp, pilot: Pilot[Any], step: str) -> None:
    """Do what the step asks with the keyboard (accept the terms), then Next (Ctrl+N)."""
    screen = app.screen
    if step == "terms":
        await pilot.press("end")
        await wait_for(pilot, lambda: not screen.query_one("#accept").disabled)
        screen.query_one("#accept").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.flow.answers.terms is not None)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: app.screen is not screen)


async def answer_skip_dialog(app: WizardApp, pilot: Pilot[Any], *, skip: bool) -> None:
    """Acknowledge (Space on the focused box), say why and select Skip it, or select Grant (Esc only
    cancels)."""
    dialog_screen = app.screen
    if skip:
        await pilot.press("space", "tab", *SKIP_REASON)
        dialog_screen.query_one("#skip-confirm").focus()
        await pilot.press("enter")
    else:
        dialog_screen.query_one("#skip-grant").focus()
        await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is not dialog_screen)
    await pilot.pause()
