"""Snapshots of step 3, Eligibility and licensing: the live checks once all have reported, on each
demo scenario whose results differ, and one check's evidence dialog."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from screens.checks_view import CheckDetailDialog, ChecksTable
from tests.test_snap_support import chain, dialog, keys, shoot, walk

TO_ELIGIBILITY = walk("eligibility")


def test_eligibility_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", TO_ELIGIBILITY)


def test_eligibility_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", TO_ELIGIBILITY)


def test_eligibility_fresh_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "fresh", "120x40", TO_ELIGIBILITY)


def test_eligibility_passive_av_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "passive-av", "120x40", TO_ELIGIBILITY)


def test_eligibility_missing_entra_p1_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "missing-entra-p1", "120x40", TO_ELIGIBILITY)


def test_eligibility_gcc_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "gcc", "120x40", TO_ELIGIBILITY)


async def _select_av_mode(app: WizardApp, pilot: Pilot[Any]) -> None:
    table = app.screen.query_one("#checks", ChecksTable)
    table.move_cursor(row=table.get_row_index("devices.av_mode"))
    await pilot.pause()


def test_eligibility_passive_av_detail_120x40(request: pytest.FixtureRequest) -> None:
    """Enter on the antivirus row: the evidence and what to do."""
    assert shoot(request, "passive-av", "120x40",
                 chain(TO_ELIGIBILITY, _select_av_mode, keys("enter"), dialog(CheckDetailDialog)))
