"""Snapshots of step 7, Service provider access: in place (ready), not there yet (fresh), and the
skipped-role warning that stays visible after Manage permissions."""

from __future__ import annotations

import pytest

from tests.test_snap_support import Choices, shoot


def test_access_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="access")


def test_access_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="access")


def test_access_fresh_120x40(request: pytest.FixtureRequest) -> None:
    """No partner and no policies yet: round 1 and the plain explanation."""
    assert shoot(request, "fresh", "120x40", start="access")


def test_access_operator_skipped_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="access", choices=Choices(operator=False))


def test_access_administrator_skipped_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="access", choices=Choices(administrator=False))
