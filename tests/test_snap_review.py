"""Snapshots of step 8, Review: the verdict, warnings, decisions and every check, per scenario and
with each optional role skipped; and the export dialog."""

from __future__ import annotations

import pytest

from screens.export import ExportDialog
from tests.test_snap_support import Choices, chain, dialog, keys, shoot


def test_review_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="review")


def test_review_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="review")


def test_review_operator_skipped_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="review", choices=Choices(operator=False))


def test_review_administrator_skipped_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="review", choices=Choices(administrator=False))


def test_review_fresh_120x40(request: pytest.FixtureRequest) -> None:
    """A first look: nothing ordered or confirmed, access not given."""
    assert shoot(request, "fresh", "120x40", start="review", choices=Choices(confirm_licence=False))


def test_review_passive_av_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "passive-av", "120x40", start="review")


def test_review_missing_entra_p1_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "missing-entra-p1", "120x40", start="review")


def test_review_gcc_hunting_120x40(request: pytest.FixtureRequest) -> None:
    """Hunting on the GCC tenant: six steps, no permissions or access."""
    assert shoot(request, "gcc", "120x40", start="review", choices=Choices(service="hunting"))


def test_review_export_dialog_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", chain(keys("e"), dialog(ExportDialog)), start="review")
