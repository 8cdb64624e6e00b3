"""Snapshots of step 2, Sign in: the device code panel while waiting (countdown frozen; the QR code of the
address where there is room, or after q), and who signed in with their roles and the detected cloud."""

from __future__ import annotations

import pytest

from tests.test_snap_support import chain, keys, shoot, until, walk

WAITING_FOR_CODE = chain(keys("ctrl+n"), until(lambda app: getattr(app.screen, "state", "") == "waiting"))


def test_signin_ready_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", walk("signin"))


def test_signin_ready_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", walk("signin"))


def test_signin_code_waiting_80x24(request: pytest.FixtureRequest) -> None:
    """The code waits for approval (the demo's "a" key); its countdown is frozen at 15:00. No QR code: no room."""
    assert shoot(request, "fresh", "80x24", WAITING_FOR_CODE, approval="on_demand")


def test_signin_code_waiting_120x40(request: pytest.FixtureRequest) -> None:
    """With room, the panel shows the QR code of the address beside the code."""
    assert shoot(request, "fresh", "120x40", WAITING_FOR_CODE, approval="on_demand")


def test_signin_gcc_120x40(request: pytest.FixtureRequest) -> None:
    """The GCC tenant: the cloud is detected from the tenant's metadata."""
    assert shoot(request, "gcc", "120x40", walk("signin"))


def test_signin_code_qr_80x24(request: pytest.FixtureRequest) -> None:
    """At 80x24 the QR code of the address has no room by default; q shows it (issue 16 item 15)."""
    assert shoot(request, "fresh", "80x24", chain(WAITING_FOR_CODE, keys("q")), approval="on_demand")
