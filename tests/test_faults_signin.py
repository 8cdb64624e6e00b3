"""Faults at sign-in, through both transports (the in-process adapter and loopback HTTPS): the identity
platform's endpoints failing in every way, the device code expired, declined or blocked, and a revoked
refresh token. Each run ends with exit 3, one clear line naming what failed and what to do, no
traceback and no secret. A busy provider (429/5xx) is first retried with backoff and Retry-After,
a fresh MSAL app each time, within a capped total wait. The table of covered faults is docs/faults.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import dex_tui.signin_retry
from dex_tui.auth import Authenticator, IdentityProviderUnavailable, RetryPolicy, SignInCancelled, SignInRetry
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.runtime import Runtime
from dex_tui.settings import Settings
from dex_tui.token_cache import TokenCacheStore
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


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """Every pause sign-in takes before trying again (recorded, never really waited)."""
    recorded: list[float] = []
    monkeypatch.setattr(dex_tui.signin_retry, "DEFAULT_RETRY_POLICY", RetryPolicy(sleep=recorded.append))
    return recorded


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _case(endpoint: str, fault: dict, expected: str) -> object:
    label = fault["kind"] if fault["kind"] != "status" else str(fault["status"])
    return pytest.param(endpoint, fault, expected, id=f"{endpoint}-{label}")


@pytest.mark.parametrize(("endpoint", "fault", "expected"), [
    _case("login.openid", {"kind": "status", "status": 503}, "kept answering HTTP 503"),
    _case("login.openid", {"kind": "timeout"}, "no answer within the read timeout"),
    _case("login.openid", {"kind": "malformed"}, "did not return a usable sign-in configuration"),
    _case("login.devicecode", {"kind": "reset"}, "could not be reached"),
    _case("login.devicecode", {"kind": "malformed"}, "could not be understood"),
    _case("login.devicecode", {"kind": "status", "status": 500}, "kept answering HTTP 500 (AADSTS90033"),
    _case("login.token", {"kind": "status", "status": 502}, "kept answering HTTP 502"),
    _case("login.token", {"kind": "throttle", "retry_after": 1}, "kept answering HTTP 429 (AADSTS50196"),
    _case("login.token", {"kind": "timeout"}, "no answer within the read timeout"),
    _case("login.token", {"kind": "truncated"}, "broke while reading its answer"),
])
def test_identity_platform_faults_end_the_sign_in_cleanly(make_transport, capsys, waits, endpoint: str,
                                                          fault: dict, expected: str) -> None:
    target = make_transport(load_scenario("ready").with_faults({"endpoint": endpoint, "count": 0, **fault}))
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 3, result.err
    line = _last_line(result.err)
    assert line.startswith("dex-tui: ") and expected in line, line
    busy = fault["kind"] in ("status", "throttle")
    assert len(waits) == (3 if busy else 0)  # four tries for a busy provider; the others end at once
    if busy:
        assert "4 tries" in line and "Wait a few minutes" in line
        assert result.err.count("trying again in") == 3
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


# -- a busy identity provider is retried --------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "fault", "doing"), [
    ("login.devicecode", {"kind": "status", "status": 503}, "asking for a sign-in code"),
    ("login.token", {"kind": "status", "status": 503}, "waiting for the sign-in"),
    ("login.openid", {"kind": "status", "status": 502}, "reading the sign-in configuration"),
], ids=["devicecode-503", "token-503", "openid-502"])
def test_one_busy_reply_is_retried_and_the_sign_in_completes(make_transport, capsys, waits, endpoint: str,
                                                             fault: dict, doing: str) -> None:
    target = make_transport(load_scenario("ready").with_faults({"endpoint": endpoint, "count": 1, **fault}))
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 0, result.err
    assert "(device code)" in result.out
    assert f"answered HTTP {fault['status']} while {doing}; trying again in 1 second (try 2 of 4)." in result.err
    assert waits == [1.0]
    path = {"login.devicecode": "/devicecode", "login.token": "/token", "login.openid": "openid-configuration"}
    hits = [entry for entry in target.cloud.request_log if entry[2].endswith(path[endpoint])]
    assert len(hits) >= 2  # the second try really reached the server: a fresh MSAL app, no cached 5xx
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([target.cloud], result.sources(), kinds=())


def test_retry_after_is_honoured_and_backoff_grows(make_transport, capsys, waits) -> None:
    scenario = load_scenario("ready").with_faults(
        {"endpoint": "login.devicecode", "kind": "throttle", "retry_after": 3, "count": 1},
        {"endpoint": "login.token", "kind": "status", "status": 500, "count": 2})
    target = make_transport(scenario)
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 0, result.err
    assert waits == [3.0, 1.0, 2.0]  # Retry-After: 3 for the code; then 1 s and 2 s while polling
    assert "answered HTTP 429 while asking for a sign-in code; trying again in 3 seconds" in result.err


def test_a_retry_after_beyond_the_cap_ends_at_once_with_a_clear_message(make_transport, capsys, waits) -> None:
    target = make_transport(load_scenario("ready").with_faults(
        {"endpoint": "login.devicecode", "kind": "throttle", "retry_after": 120, "count": 0}))
    result = run_cli([*target.args, "signin"], capsys)
    assert result.code == 3
    line = _last_line(result.err)
    assert line.startswith("dex-tui: Sign-in service unavailable: "), line
    assert "asked to wait 120 seconds" in line and "30 seconds in all" in line
    assert waits == []


def test_total_wait_is_capped(capsys) -> None:
    """Backoff alone never waits longer than the cap in all: the try that would pass it is not made."""
    waited: list[float] = []
    policy = RetryPolicy(attempts=10, base_delay=4.0, max_delay=8.0, max_total_wait=20.0, sleep=waited.append)
    cloud = FakeCloud(load_scenario("ready").with_faults({"endpoint": "login.devicecode", "kind": "status",
                                                          "status": 503, "count": 0}))
    runtime = Runtime(Settings(demo="ready"), fake_cloud=cloud)
    auth = runtime.authenticator()
    auth.retry = policy
    with pytest.raises(IdentityProviderUnavailable) as caught:
        auth.start_device_flow()
    assert waited == [4.0, 8.0, 8.0] and sum(waited) <= 20.0
    assert "4 tries" in caught.value.explanation and caught.value.status == 503


def test_retries_tell_the_caller_and_stop_on_cancel_within_a_second() -> None:
    cloud = FakeCloud(load_scenario("ready").with_faults({"endpoint": "login.devicecode", "kind": "throttle",
                                                          "retry_after": 20, "count": 0}))
    runtime = Runtime(Settings(demo="ready"), fake_cloud=cloud)
    auth = runtime.authenticator()
    auth.retry = RetryPolicy()  # the real, cancellable wait
    heard: list[SignInRetry] = []
    cancel = threading.Event()
    started = time.monotonic()
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(SignInCancelled):
        auth.start_device_flow(is_cancelled=cancel.is_set, on_retry=heard.append)
    assert time.monotonic() - started < 1.5
    assert [(n.status, n.delay, n.attempt) for n in heard] == [(429, 20.0, 2)]


def test_a_busy_refresh_is_retried_when_a_saved_sign_in_is_reused(waits) -> None:
    """The cached-account path (the refresh-token grant) rides out a 503 too."""
    store = TokenCacheStore("memory", None)
    scenario = load_scenario("ready").with_knobs(token_lifetime=120).with_faults(
        {"endpoint": "login.token", "kind": "status", "status": 503, "skip": 1, "count": 1})
    cloud = FakeCloud(scenario)
    first = Runtime(Settings(demo="ready"), fake_cloud=cloud, cache_store=store)
    auth: Authenticator = first.authenticator()
    auth.complete_device_flow(auth.start_device_flow())
    second = Runtime(Settings(demo="ready"), fake_cloud=cloud, cache_store=store)
    heard: list[SignInRetry] = []
    signed = second.authenticator().restore(on_retry=heard.append)
    assert signed is not None and signed.method == "cache"
    assert [n.doing for n in heard] == ["signing in from the saved session"] and waits == [1.0]
