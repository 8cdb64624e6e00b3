"""Snapshots of step 5, Licence: the watch sees the order at once (ready), sees nothing yet (fresh),
and sees it after the demo's portal order, confirmed by the operator."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from tests.test_snap_support import chain, keys, shoot, until


def _watch_status(app: WizardApp) -> str:
    return str(app.screen.query_one("#watch-status").render())


async def _confirm(app: WizardApp, pilot: Pilot[Any]) -> None:
    app.screen.query_one("#confirm-license").focus()
    await pilot.press("enter")
    await until(lambda a: a.flow.answers.license is not None)(app, pilot)


def test_license_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="license")


def test_license_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="license")


def test_license_fresh_120x40(request: pytest.FixtureRequest) -> None:
    """Nothing ordered yet: round 1 saw nothing; the next look is in 5 s."""
    assert shoot(request, "fresh", "120x40", start="license")


def test_license_fresh_ordered_120x40(request: pytest.FixtureRequest) -> None:
    """After the demo's portal order (p) the watch sees it; the operator confirms."""
    assert shoot(request, "fresh", "120x40",
                 chain(keys("p"), until(lambda app: "✔ Seen at round" in _watch_status(app)), _confirm),
                 start="license")
