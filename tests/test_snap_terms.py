"""Snapshots of step 4, Terms: before scrolling (Accept disabled) and once accepted (who, when)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from tests.test_snap_support import chain, shoot, until, walk


async def _accept(app: WizardApp, pilot: Pilot[Any]) -> None:
    await pilot.press("end")
    await until(lambda a: not a.screen.query_one("#accept").disabled)(app, pilot)
    app.screen.query_one("#accept").focus()
    await pilot.press("enter")
    await until(lambda a: a.flow.answers.terms is not None)(app, pilot)


def test_terms_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", walk("terms"))


def test_terms_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", walk("terms"))


def test_terms_accepted_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", chain(walk("terms"), _accept))
