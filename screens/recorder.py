"""Play a demo walkthrough (read by ``dex_tui.walkthrough``) in the wizard, headless, and write
an SVG screenshot for each marked step.

The same screen gives the same file: the clock is frozen at the scenario's fixed time, animation is off,
the device code is approved by the demo (or the walkthrough's "a" key), the wizard starts clean in a
state directory of its own (shown as the relative path ``dex-tui-state/...``, never a temporary path),
and the SVG's element ids are derived from its content.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.pilot import OutOfBounds, Pilot
from textual.screen import Screen

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.errors import UsageError
from dex_tui.settings import Settings
from dex_tui.walkthrough import Step, Wait, Walkthrough
from screens.app import WizardApp
from screens.base import StepScreen
from screens.checks_view import CheckDetailDialog
from screens.dialogs import ConfirmDialog, ErrorDialog, LinkDialog, SkipRoleDialog
from screens.export import ExportDialog
from screens.help import HelpScreen
from screens.textdump import screen_text

STATE_DIR = Path("dex-tui-state")  # relative to the recording's own working directory
DIALOGS: dict[str, type[Screen[Any]]] = {  # every name of walkthrough.DIALOG_NAMES but "none"
    "error": ErrorDialog, "skip-role": SkipRoleDialog, "help": HelpScreen, "export": ExportDialog,
    "check-detail": CheckDetailDialog, "confirm": ConfirmDialog, "link": LinkDialog,
}
_SVG_ID = re.compile(r"\bterminal-\d+")


def record(walkthrough: Walkthrough, output: Path) -> list[Path]:
    """Play ``walkthrough`` and write its screenshots into ``output`` (which exists); the paths written."""
    output = output.resolve()
    with tempfile.TemporaryDirectory(prefix="dex-tui-record-") as work, _working_directory(Path(work)):
        return asyncio.run(_play(walkthrough, output))


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def build_app(walkthrough: Walkthrough) -> WizardApp:
    """The wizard on a fresh fake tenant of the walkthrough's scenario, its clock frozen at the
    scenario's time, starting on Welcome with the walkthrough's service chosen."""
    scenario = load_scenario(walkthrough.scenario)
    if walkthrough.approval:
        scenario = scenario.with_knobs(device_code={"approval": walkthrough.approval})
    frozen = datetime.fromisoformat(scenario.now.replace("Z", "+00:00")).timestamp()
    app = WizardApp(Settings(demo=scenario.name, state_dir=STATE_DIR), restart=True, fake_cloud=FakeCloud(scenario),
                    clock=lambda: frozen)
    app.core.state = replace(app.core.state, answers=replace(app.core.state.answers, service=walkthrough.service))
    return app


async def _play(walkthrough: Walkthrough, output: Path) -> list[Path]:
    app = build_app(walkthrough)
    written: list[Path] = []
    async with app.run_test(size=walkthrough.size) as pilot:
        await _wait(app, pilot, Wait(step="welcome"), f"{walkthrough.path} (start)")
        for step in walkthrough.steps:
            await _do(app, pilot, step)
            if step.screenshot:
                written.append(write_svg(output / f"{step.screenshot}.svg", await _screenshot(app, pilot)))
    return written


async def _do(app: WizardApp, pilot: Pilot[Any], step: Step) -> None:
    """One step: focus, click, type, press, wait (in that order)."""
    if step.focus:
        _widget(app, step.focus, step).focus()
        await pilot.pause()
    if step.click:
        _widget(app, step.click, step)
        try:
            await pilot.click(step.click)
        except OutOfBounds as exc:
            raise _not_as_written(f"{step.where}: {step.click} is not visible on the screen, so it cannot be "
                                  "clicked.", app) from exc
    if step.typed:
        await pilot.press(*step.typed)
        await pilot.pause()
    if step.press:
        await pilot.press(*step.press)
        await pilot.pause()
    if step.wait:
        await _wait(app, pilot, step.wait, step.where)


def _widget(app: WizardApp, selector: str, step: Step) -> Any:
    found = app.screen.query(selector)
    if not found:
        raise _not_as_written(f"{step.where}: nothing on the screen has the id {selector}.", app)
    return found.first()


async def _wait(app: WizardApp, pilot: Pilot[Any], wait: Wait, where: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait.timeout
    while not holds(app, wait):
        if loop.time() > deadline:
            raise _not_as_written(f"{where}: waited {wait.timeout:g} s for {wait.describe()}.", app)
        await pilot.pause(0.02)
    await pilot.pause()


def holds(app: WizardApp, wait: Wait) -> bool:
    """Whether every condition of ``wait`` holds in the running app."""
    screen = app.screen
    if wait.step and not (isinstance(screen, StepScreen) and screen.STEP_ID == wait.step and screen.is_mounted
                          and bool(screen.query("#next"))):
        return False
    if wait.dialog == "none" and not isinstance(screen, StepScreen):
        return False
    if wait.dialog and wait.dialog != "none" and not (isinstance(screen, DIALOGS[wait.dialog]) and screen.is_mounted):
        return False
    if wait.signed_in and (app.session is None or getattr(screen, "state", "signed_in") != "signed_in"):
        return False
    if wait.checks_done and (app.session is None or app.checks_running or not app.results):
        return False
    if wait.check:
        result = app.results.get(wait.check)
        if result is None or (wait.status and result.status.value != wait.status):
            return False
    if wait.watch_rounds and getattr(screen, "rounds", 0) < wait.watch_rounds:
        return False
    return not wait.text or " ".join(wait.text.split()) in " ".join(screen_text(app).split())


def _not_as_written(problem: str, app: WizardApp) -> UsageError:
    return UsageError(f"{problem} The wizard shows {_showing(app)}.", title="The walkthrough did not play as written",
                      next_step="Check the step's keys and waits against the wizard: try them by hand with "
                                "'dex-tui --demo SCENARIO'.")


def _showing(app: WizardApp) -> str:
    """What is on screen, in words, for an error message."""
    screen = app.screen
    if isinstance(screen, ErrorDialog):
        return f"the error dialog {screen.error.title!r}"
    for name, kind in DIALOGS.items():
        if isinstance(screen, kind):
            return f"the {name!r} dialog"
    if isinstance(screen, StepScreen):
        running = " (checks running)" if app.checks_running else ""
        return f"the {screen.STEP_ID!r} step{running}"
    return type(screen).__name__


async def _screenshot(app: WizardApp, pilot: Pilot[Any]) -> str:
    """The screen as SVG once queued work has settled (as pytest-textual-snapshot takes it)."""
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    svg = app.export_screenshot()
    stable = hashlib.sha256(_SVG_ID.sub("terminal", svg).encode("utf-8")).hexdigest()[:10]
    return _SVG_ID.sub(f"terminal-{stable}", svg)


def write_svg(path: Path, svg: str) -> Path:
    """Write atomically (a temporary file in the same directory, then a rename), readable by all."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(svg)
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
