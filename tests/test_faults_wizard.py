"""Faults met by the wizard (in-process demo transport): a 403 and a network that is down while the
checks run, an access token that expires at the server, and a refresh token revoked mid-session, which
takes the operator back to sign-in and then on to where they were. Nothing crashes; the one error dialog
says what failed and what to do. The headless runs of the same faults are in test_faults_checks.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dex_tui.demo import FakeCloud, Scenario, load_scenario
from dex_tui.errors import NetworkError
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.dialogs import ConfirmDialog, ErrorDialog
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, shown, wait_for

SKU_CHECKS = {"license.mde_p2", "license.entra_p1", "license.mdo_p2", "license.mdi", "license.mdca", "coverage.iot"}


def _app(state_dir: Path, scenario: Scenario, sleeps: list[float]) -> WizardApp:
    return WizardApp(Settings(demo="ready", state_dir=state_dir),
                     fake_cloud=FakeCloud(scenario, sleep=lambda seconds: None), clock=lambda: FROZEN_CLOCK,
                     now_iso=lambda: NOW, graph_options={"sleep": sleeps.append})


async def _to_eligibility(app: WizardApp, pilot: Any) -> None:
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: app.session is not None, timeout=10)
    await wait_for(pilot, lambda: not app.checks_running and len(app.results) >= 17, timeout=10)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility", timeout=5)


def _text(app: WizardApp) -> str:
    return " ".join(screen_text(app).split())


async def test_a_403_makes_the_licence_rows_unknown_and_the_wizard_goes_on(state_dir: Path) -> None:
    sleeps: list[float] = []
    scenario = load_scenario("ready").with_faults({"endpoint": "graph.subscribedSkus", "kind": "status",
                                                   "status": 403, "count": 0})
    app = _app(state_dir, scenario, sleeps)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=15)
        error = app.screen.error
        assert error.title == "Some checks could not read your tenant"
        assert "subscribed skus" in error.explanation and "LicenseAssignment.Read.All" in error.explanation
        assert "Some checks could not read your tenant" in _text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        unknown = {i for i, r in app.results.items() if r.status.value == "unknown"}
        assert SKU_CHECKS <= unknown
        assert {i for i in unknown - SKU_CHECKS} <= {"experts.terms", "experts.license", "experts.roles"}
        assert all(app.results[i].status.value in ("pass", "info") for i in app.results.keys() - unknown)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility")
        await pilot.press("ctrl+n")  # an unknown blocker asks first; going on anyway is the operator's choice
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        assert "Defender for Endpoint Plan 2 licensed (unknown)" in app.screen.question
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "terms")
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert sleeps == []  # a 403 is not retried


async def test_network_down_during_the_checks_is_one_dialog_not_a_crash(state_dir: Path) -> None:
    sleeps: list[float] = []
    scenario = load_scenario("ready").with_faults({"endpoint": "graph.*", "kind": "timeout", "count": 0},
                                                  {"endpoint": "mde.*", "kind": "reset", "count": 0})
    app = _app(state_dir, scenario, sleeps)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=15)
        error = app.screen.error  # the dialog scrolls: read what it holds
        assert "no answer within the read timeout" in error.explanation and "network" in error.next_step
        assert isinstance(error, NetworkError) and "more (see each check's evidence)" in error.explanation
        assert {r.status.value for i, r in app.results.items() if i in SKU_CHECKS} == {"unknown"}
        devices = app.results["devices.onboarded"].summary  # counted by advanced hunting, on Graph
        assert "runHuntingQuery" in devices and "no answer within the read timeout" in devices
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        assert app.session is not None and app.flow.step == "signin"
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert sleeps and set(sleeps) <= {0.5, 1.0, 2.0, 4.0}


async def test_access_token_expiring_at_the_server_is_refreshed_silently(state_dir: Path) -> None:
    sleeps: list[float] = []
    app = _app(state_dir, load_scenario("ready"), sleeps)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_eligibility(app, pilot)
        before = dict(app.results)
        app.core.demo.cloud.expire_access_tokens()
        await pilot.press("r")
        await wait_for(pilot, lambda: app.core.check_run >= 2 and not app.checks_running, timeout=10)
        await pilot.pause()
        assert not isinstance(app.screen, ErrorDialog)
        assert {i: r.status for i, r in app.results.items()} == {i: r.status for i, r in before.items()}
        await pilot.press("ctrl+c")
    assert app.return_value == 130


async def test_revoked_refresh_token_goes_back_to_sign_in_then_on(state_dir: Path) -> None:
    """Short-lived tokens make every read redeem the refresh token; revoked, the re-run cannot read
    anything, so the wizard says to sign in again, takes the operator to Sign in, and after signing in
    comes back to the step they were on with fresh results."""
    sleeps: list[float] = []
    app = _app(state_dir, load_scenario("ready").with_knobs(token_lifetime=120), sleeps)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_eligibility(app, pilot)
        app.core.demo.cloud.revoke_refresh_tokens()
        await pilot.press("r")
        await wait_for(pilot, lambda: app.flow.step == "signin" or app.core.resume_to == "eligibility"
                       or shown(app, ErrorDialog), timeout=10)
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "signin"
                       or shown(app, ErrorDialog), timeout=10)
        text = _text(app)
        assert "Sign in again" in text or "sign in again" in text
        if shown(app, ErrorDialog):
            await pilot.press("escape")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "signin", timeout=5)
        # The demo approves the new device code; once signed in, Next goes back to the eligibility step.
        await wait_for(pilot, lambda: app.session is not None and len(app.core.demo.cloud.tokens.device_codes) == 2,
                       timeout=10)
        await wait_for(pilot, lambda: not app.checks_running and len(app.results) >= 17, timeout=10)
        assert all(r.status.value != "unknown" or r.id.startswith("experts.") for r in app.results.values())
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility", timeout=5)
        await pilot.press("ctrl+c")
    assert app.return_value == 130


@pytest.mark.parametrize(("approval", "codes", "expected"), [
    ("expire", 3, "The code expired several times"),
    ("decline", 1, "Sign-in declined"),
])
async def test_expired_and_declined_device_codes_in_the_wizard(state_dir: Path, approval: str, codes: int,
                                                               expected: str) -> None:
    """Expired: three codes are issued, then the screen says so and n asks for another. Declined: the
    error dialog explains it; n starts again. Never signed in, never a crash."""
    cloud = FakeCloud(load_scenario("fresh").with_knobs(device_code={"approval": approval}))
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=cloud, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: expected in _text(app), timeout=10)
        assert len(cloud.tokens.device_codes) == codes and app.session is None
        if shown(app, ErrorDialog):
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
        await pilot.press("n")
        await wait_for(pilot, lambda: len(cloud.tokens.device_codes) > codes, timeout=10)
        await pilot.press("ctrl+c")
    assert app.return_value == 130 and app.session is None
