"""Snapshots of step 1, Welcome: the demo banner, the service, cloud and tenant choices, and its help."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from screens.choices import ChoicePicker
from screens.help import HelpScreen
from tests.test_snap_support import chain, dialog, keys, shoot


def test_welcome_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24")


def test_welcome_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40")


async def _choose_gcc(app: WizardApp, pilot: Pilot[Any]) -> None:
    app.screen.query_one("#cloud", ChoicePicker).value = "gcc"
    await pilot.pause()


def test_welcome_gcc_xdr_not_offered_120x40(request: pytest.FixtureRequest) -> None:
    """The GCC demo tenant with the GCC cloud chosen: XDR is not offered there."""
    assert shoot(request, "gcc", "120x40", _choose_gcc)


def test_welcome_help_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", chain(keys("f1"), dialog(HelpScreen)))
