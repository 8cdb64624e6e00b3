"""Snapshots of the one error dialog: Conditional Access blocks the device code sign-in, and a check's
read answered 403 (the fake cloud's fault injection on the subscribed SKUs)."""

from __future__ import annotations

import pytest

from screens.dialogs import ErrorDialog
from tests.test_snap_support import chain, dialog, keys, shoot

FORBIDDEN_SKUS = [{"endpoint": "graph.subscribedSkus", "kind": "status", "status": 403, "count": 0}]
SIGN_IN_THEN_ERROR = chain(keys("ctrl+n"), dialog(ErrorDialog))


def test_error_ca_blocks_device_code_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ca-blocks-device-code", "80x24", SIGN_IN_THEN_ERROR)


def test_error_ca_blocks_device_code_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ca-blocks-device-code", "120x40", SIGN_IN_THEN_ERROR)


def test_error_check_403_80x24(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "80x24", SIGN_IN_THEN_ERROR, faults=FORBIDDEN_SKUS)


def test_error_check_403_120x40(request: pytest.FixtureRequest) -> None:
    assert shoot(request, "ready", "120x40", SIGN_IN_THEN_ERROR, faults=FORBIDDEN_SKUS)
