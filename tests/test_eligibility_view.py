"""Pilot tests of the Eligibility step's verdict at a glance (issue 16 items 4 and 5): the headline names
each blocker (or says there is none), the cursor starts on the first problem, results wrap instead of
being cut, checks a later step settles read "to do in step N", and d shows evidence in words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets.data_table import RowKey

from dex_tui import facts
from dex_tui.results import Status
from screens.app import WizardApp
from screens.checks_view import CheckDetailDialog, ChecksTable
from tests.test_wizard_support import make_app, reach, shown, sign_in, wait_for


async def _eligibility(app: WizardApp, pilot: Pilot[Any]) -> ChecksTable:
    await sign_in(app, pilot)
    await reach(app, pilot, "signin")
    await pilot.press("ctrl+n")
    await reach(app, pilot, "eligibility")
    await wait_for(pilot, lambda: not app.checks_running and len(app.results) > 0, timeout=10)
    await pilot.pause()
    return app.screen.query_one("#checks", ChecksTable)


def _headline(app: WizardApp) -> str:
    return str(app.screen.query_one("#checks-progress", Static).render())


async def test_a_failed_blocker_is_named_and_selected(state_dir: Path) -> None:
    app = make_app(state_dir, "missing-entra-p1")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _eligibility(app, pilot)
        headline = _headline(app)
        assert "1 blocker to fix: Entra ID P1 for all users." in headline
        assert table.selected_id() == "license.entra_p1"
        # The access checks fail only because step 7 has not been done: not counted as failures.
        assert app.results["access.service_provider"].status is Status.FAIL
        assert "1 fail" in headline and "to do in steps 4, 5, 6, 7" in headline
        status, _, result = table.get_row("access.service_provider")
        assert status.plain == "→ step 7"
        assert result.plain == "To do in step 7, Service provider access."


async def test_an_unreadable_cloud_blocker_is_named(state_dir: Path) -> None:
    app = make_app(state_dir, "gcc-high")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _eligibility(app, pilot)
        blocked = [r for r in app.results.values() if r.severity.value == "blocker"
                   and r.status in (Status.FAIL, Status.UNKNOWN) and r.id not in table.later]
        assert blocked, "the gcc-high scenario has a blocker to fix now"
        headline = _headline(app)
        assert f"{len(blocked)} blocker" in headline
        for result in blocked:
            assert result.title in headline
        assert table.selected_id() == blocked[0].id


async def test_no_blocker_says_so_and_the_warning_is_selected_and_wrapped(state_dir: Path) -> None:
    app = make_app(state_dir, "passive-av")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _eligibility(app, pilot)
        headline = _headline(app)
        assert headline.startswith("✔ No blocker.")
        assert "To look at: Defender Antivirus in active mode." in headline
        assert table.selected_id() == "devices.av_mode"
        _, _, result = table.get_row("devices.av_mode")
        assert "48 passive" in result.plain and not result.no_wrap
        assert table.rows[RowKey("devices.av_mode")].height >= 2  # wrapped, not cut


async def test_a_ready_tenant_starts_on_the_first_check(state_dir: Path) -> None:
    app = make_app(state_dir, "ready")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _eligibility(app, pilot)
        assert _headline(app).startswith("✔ No blocker.")
        assert "To look at" not in _headline(app)
        assert table.cursor_row == 1 and table.selected_id() is not None


async def test_the_cursor_stays_where_the_operator_put_it(state_dir: Path) -> None:
    app = make_app(state_dir, "missing-entra-p1")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _eligibility(app, pilot)
        await pilot.press("up", "up")
        chosen = table.selected_id()
        assert chosen is not None and chosen != "license.entra_p1"
        run = app.core.check_run
        await pilot.press("r")
        await wait_for(pilot, lambda: app.core.check_run > run and not app.checks_running, timeout=10)
        await pilot.pause()
        assert table.selected_id() == chosen
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert table.selected_id() == chosen


async def test_d_shows_the_selected_checks_evidence_in_words(state_dir: Path) -> None:
    app = make_app(state_dir, "missing-entra-p1")
    async with app.run_test(size=(80, 24)) as pilot:
        await _eligibility(app, pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: shown(app, CheckDetailDialog))
        dialog = app.screen
        assert isinstance(dialog, CheckDetailDialog) and dialog.result.id == "license.entra_p1"
        text = str(dialog.query_one("#detail-text", Static).render())
        assert "Users who need Entra ID P1: 250" in text
        assert "Only enabled members counted (not guests or disabled accounts): yes" in text
        assert "members_only" not in text and "True" not in text and "False" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not shown(app, CheckDetailDialog))


async def test_a_long_paged_read_shows_the_pages_read_so_far(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device read that takes several slow pages (30 devices a page, 0.7 s each, as a big tenant's
    pages of 10,000 would be): its row counts the pages while it runs, then shows the result. Advanced
    hunting is refused, so the devices are paged (the fallback; with hunting one request counts them)."""
    monkeypatch.setattr(facts, "MDE_PAGE_SIZE", 30)
    app = make_app(state_dir, "ready", faults=[{"endpoint": "mde.machines", "kind": "latency", "latency_ms": 700,
                                                "count": 0},
                                               {"endpoint": "graph.huntingQuery", "kind": "status", "status": 403,
                                                "count": 0}])
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(app, pilot)
        await reach(app, pilot, "signin")
        await pilot.press("ctrl+n")
        await reach(app, pilot, "eligibility")
        await wait_for(pilot, lambda: not app.checks_running, timeout=30)
        table = app.screen.query_one("#checks", ChecksTable)
        progress: list[str] = []
        await pilot.press("r")  # read again, on this step from the start (the first run began on Sign in)
        await wait_for(pilot, lambda: app.checks_running, timeout=5)

        def reading() -> bool:
            if "devices.onboarded" in table.rows:
                summary = table.get_row("devices.onboarded")[2].plain
                if summary.startswith("Reading…"):
                    progress.append(summary)
            return not app.checks_running

        await wait_for(pilot, reading, timeout=30)
        assert progress, "the devices row never said how many pages were read"
        assert all(re.fullmatch(r"Reading… \d+ pages? so far", line) for line in progress)
        assert "212 devices are onboarded" in table.get_row("devices.onboarded")[2].plain
