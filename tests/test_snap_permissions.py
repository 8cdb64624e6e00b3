"""Snapshots of step 6, Manage permissions: undecided, the skip dialogs of both optional roles, and
the step after skipping each (the warning names what the experts cannot do and who acknowledged)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from screens.app import WizardApp
from screens.dialogs import SkipRoleDialog
from tests.test_snap_support import Drive, answer_skip_dialog, chain, dialog, keys, shoot, until


def _untick(role: str) -> Drive:
    """Tick the role (granted), then untick it: the skip dialog opens; acknowledge and skip."""

    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        app.screen.query_one(f"#role-{role}").focus()
        await pilot.press("space")
        await until(lambda a: a.flow.answers.roles[role] is True)(app, pilot)
        await pilot.press("space")
        await dialog(SkipRoleDialog)(app, pilot)
        await answer_skip_dialog(app, pilot, skip=True)
        await until(lambda a: a.flow.answers.roles[role] is False)(app, pilot)

    return drive


async def _grant_operator(app: WizardApp, pilot: Pilot[Any]) -> None:
    app.screen.query_one("#role-security_operator").focus()
    await pilot.press("space")
    await until(lambda a: a.flow.answers.roles["security_operator"] is True)(app, pilot)


def test_permissions_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", start="permissions")


def test_permissions_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", start="permissions")


def test_permissions_skip_operator_dialog_80x24(request: pytest.FixtureRequest) -> None:
    """Next with Security operator unticked asks about it first."""
    assert shoot(request, "ready", "80x24", chain(keys("ctrl+n"), dialog(SkipRoleDialog)),
                 start="permissions")


def test_permissions_skip_operator_dialog_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", chain(keys("ctrl+n"), dialog(SkipRoleDialog)),
                 start="permissions")


def test_permissions_skip_administrator_dialog_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24",
                 chain(_grant_operator, keys("ctrl+n"), dialog(SkipRoleDialog)), start="permissions")


def test_permissions_operator_skipped_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", _untick("security_operator"), start="permissions")


def test_permissions_administrator_skipped_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", _untick("security_administrator"), start="permissions")
