"""Faults at sign-in, through both transports (the in-process adapter and loopback HTTPS): the identity
platform's endpoints failing in every way, the device code expired, declined or blocked, and a revoked
refresh token. Each run ends with exit 3, one clear line naming what failed and what to do, no
traceback and no secret. The table of covered faults is docs/faults.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dex_tui.demo import load_scenario
from tests.test_secrets_support import (
    TRANSPORTS,
    Transports,
    assert_no_secret,
    assert_no_traceback,
    run_cli,
)


@pytest.fixture(params=TRANSPORTS)
def make_transport(request, monkeypatch, state_dir) -> Iterator[Transports]:
    """``make_transport(scenario)``: the fake cloud behind this test's transport (both are run)."""
    transports = Transports(request.param, monkeypatch, state_dir)
    yield transports
    transports.close()


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _case(endpoint: str, fault: dict, expected: str) -> object:
    label = fault["kind"] if fault["kind"] != "status" else str(fault["status"])
    return pytest.param(endpoint, fault, expected, id=f"{endpoint}-{label}")


@pytest.mark.parametrize(("endpoint", "fault", "expected"), [
    _case("login.openid", {"kind": "status", "status": 503}, "answered with a server error"),
    _case("login.openid", {"kind": "timeout"}, "no answer within the read timeout"),
    _case("login.openid", {"kind": "malformed"}, "did not return a usable sign-in configuration"),
    _case("login.devicecode", {"kind": "reset"}, "could not be reached"),
    _case("login.devicecode", {"kind": "malformed"}, "could not be understood"),
    _case("login.devicecode", {"kind": "status", "status": 500}, "AADSTS90033"),
    _case("login.token", {"kind": "status", "status": 502}, "answered with a server error"),
    _case("login.token", {"kind": "throttle", "retry_after": 1}, "AADSTS50196"),
    _case("login.token", {"kind": "timeout"}, "no answer within the read timeout"),
    _case("login.token", {"kind": "truncated"}, "broke while reading its answer"),
])
def test_identity_platform_faults_end_the_sign_in_cleanly(make_transport, capsys, endpoint: str, fault: dict,
                                                          expected: str) -> None:
    target = make_transport(load_scenario("ready").with_faults({"endpoint": endpoint, "count": 0, **fault}))
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 3, result.err
    line = _last_line(result.err)
    assert line.startswith("dex-tui: ") and expected in line, line
    assert result.out == ""
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([target.cloud], result.sources(), kinds=())


@pytest.mark.parametrize(("approval", "title", "next_step"), [
    ("expire", "The sign-in code expired", "new code"),
    ("decline", "Sign-in declined", "approve it"),
    ("ca_block", "Blocked by Conditional Access", "ssh -L 8400:localhost:8400"),
])
def test_device_code_expired_declined_or_blocked(make_transport, capsys, approval: str, title: str,
                                                 next_step: str) -> None:
    target = make_transport(load_scenario("ready").with_knobs(device_code={"approval": approval}))
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 3
    line = _last_line(result.err)
    assert line.startswith(f"dex-tui: {title}: ") and next_step in line, line
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([target.cloud], result.sources(), kinds=("device",))
    if approval == "expire":  # a new code is issued, up to three, before giving up
        assert len(target.cloud.tokens.device_codes) == 3


def test_revoked_refresh_token_leads_back_to_sign_in(make_transport, memory_keyring, capsys) -> None:
    """Tokens shorter-lived than MSAL's five-minute margin make every later run redeem the refresh token;
    once it is revoked, a silent run stops with exit 3 and an interactive one signs in anew."""
    target = make_transport(load_scenario("ready").with_knobs(token_lifetime=120), token_cache="keyring")
    first = run_cli([*target.args, "signin"], capsys)
    assert first.code == 0 and "(device code)" in first.out
    target.cloud.revoke_refresh_tokens()

    silent = run_cli([*target.args, "signin", "--no-interactive"], capsys)
    assert silent.code == 3
    assert _last_line(silent.err).startswith("dex-tui: Sign-in required: ")
    assert "revoked" in silent.err

    again = run_cli([*target.args, "signin"], capsys)
    assert again.code == 0, again.err
    assert "Signing in again" in again.err and "(device code)" in again.out
    assert len(target.cloud.tokens.device_codes) == 2
    for result in (first, silent, again):
        assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([target.cloud], {f"{n} {k}": v for n, r in enumerate((first, silent, again))
                                      for k, v in r.sources().items()})
