"""Issue 14: the transport under attack, over real sockets (``tests/hostile.py``: the fake cloud on loopback
HTTPS, with chosen requests answered by an attack).

1. a next page link that parsers read differently (``\\@``), userinfo, http, another host or port;
2. redirects from every identity endpoint (token, device code polls, metadata, device code);
3. a body without end, and a gzip body that inflates past the cap;
4. headers or a body trickled a byte at a time (the per-read timeout never fires);
6. a device code interval of 0, negative or huge, and cancel during the polling;
7. wrong-shape device items;
15. wrong-shape identity replies (metadata ``{}``, ``[]``, ``null``; a device code ``[]``; a token reply
    without ``access_token``).
Each run ends with a clear reason (a read ``unknown``, or exit 3 at sign-in), no traceback, no secret,
and nothing sent anywhere else. docs/faults.md lists them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import dex_tui.runtime
import dex_tui.signin_retry
from dex_tui.bounded_read import DeadlineExceeded, ResponseTooLarge
from dex_tui.device_code_poll import MAX_INTERVAL, bound_flow
from dex_tui.http import RedirectRefused, build_session
from dex_tui.signin_retry import RetryPolicy
from dex_tui.url_origin import origin_problem
from tests.hostile import (
    HostileServer,
    Listener,
    endless_json,
    gzip_bomb,
    json_reply,
    redirect,
    reply,
    rewrite,
    trickle,
)
from tests.test_secrets_support import (
    SHORT_TIMEOUT,
    assert_no_secret,
    assert_no_traceback,
    fast_clients,
    run_cli,
    server_args,
)

ROOT = Path(__file__).resolve().parent.parent
DEVICE = b'{"id":"m1","computerDnsName":"ws1","onboardingStatus":"Onboarded","healthStatus":"Active"}'
ANSWERS = """\
service = "xdr"
[terms]
by = "admin@contoso.onmicrosoft.com"
at = "2025-06-01T09:00:00Z"
[license]
by = "admin@contoso.onmicrosoft.com"
at = "2025-06-01T09:00:00Z"
[access]
by = "admin@contoso.onmicrosoft.com"
at = "2025-06-01T09:00:00Z"
[roles]
security_reader = true
security_operator = true
security_administrator = true
"""


@pytest.fixture
def server() -> Iterator[HostileServer]:
    made = HostileServer("ready").start()
    yield made
    made.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    other = Listener()
    yield other
    other.close()


@pytest.fixture(autouse=True)
def no_waits(monkeypatch) -> list[float]:
    """Sign-in's and the Graph client's pauses are recorded, never waited; a short read timeout."""
    waits: list[float] = []
    monkeypatch.setattr(dex_tui.signin_retry, "DEFAULT_RETRY_POLICY", RetryPolicy(sleep=waits.append))
    fast_clients(monkeypatch, waits)
    return waits


def limits(monkeypatch, **kwargs: Any) -> None:
    """The run's session with these HttpSession limits (``deadline``, ``max_bytes``, ``max_inflated``)."""

    def session_for_run(ca_bundle: Path | None = None, **ignored: Any) -> Any:
        return build_session(ca_bundle, timeout=SHORT_TIMEOUT, **kwargs)

    monkeypatch.setattr(dex_tui.runtime, "build_session", session_for_run)


def check(server: HostileServer, state_dir: Path, capsys) -> tuple[Any, dict[str, dict[str, Any]]]:
    answers = state_dir.parent / "answers.toml"
    answers.write_text(ANSWERS, encoding="utf-8")
    result = run_cli([*server_args(server, state_dir), "--token-cache", "memory", "check", "--answers",
                      str(answers), "--format", "json"], capsys)
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([server.cloud], result.sources())
    report = json.loads(result.out)
    return result, {c["id"]: c for c in report["checks"]}


def signin(server: HostileServer, state_dir: Path, capsys) -> Any:
    result = run_cli([*server_args(server, state_dir), "--token-cache", "memory", "signin"], capsys)
    assert_no_traceback(result.out, result.err, result.logs)
    issued = server.cloud.tokens
    kinds = [kind for kind, made in (("access", issued.access), ("refresh", issued.refresh),
                                     ("device", issued.device_codes)) if made]
    if kinds:  # an attack on the first request leaves nothing issued to look for
        assert_no_secret([server.cloud], result.sources(), kinds=kinds)
    return result


def text_of(check_entry: dict[str, Any]) -> str:
    return json.dumps(check_entry)


# ------------------------------------------------------------------ 1. the token goes only to its origin


@pytest.mark.parametrize(("path", "check_id"), [
    pytest.param("/graph/v1.0/identity/conditionalAccess/policies", "access.conditional_access", id="graph"),
    pytest.param("/mde/api/machines", "devices.onboarded", id="mde"),
])
@pytest.mark.parametrize("shape", ["backslash-at", "userinfo", "http", "other-port", "other-host"])
def test_a_next_link_to_anywhere_else_is_refused_and_no_token_leaves(server: HostileServer, listener: Listener,
                                                                     state_dir: Path, capsys, path: str,
                                                                     check_id: str, shape: str) -> None:
    rest = f"{path}?$skiptoken=2"
    link = {
        "backslash-at": f"https://127.0.0.1:{listener.port}\\@127.0.0.1:{server.port}{rest}",
        "userinfo": f"https://127.0.0.1:{listener.port}@127.0.0.1:{server.port}{rest}",
        "http": f"http://127.0.0.1:{listener.port}{rest}",
        "other-port": f"https://127.0.0.1:{listener.port}{rest}",
        "other-host": f"https://localhost:{server.port}{rest}",
    }[shape]
    server.attack("GET", path, json_reply({"value": [], "@odata.nextLink": link}))
    result, checks = check(server, state_dir, capsys)
    assert checks[check_id]["status"] == "unknown"
    assert "next page link was refused" in text_of(checks[check_id])
    assert listener.connections == 0, "a request reached the other host"
    assert server.requests_to(path) == 1  # the link itself was never requested, not even here
    assert result.code == 3


def test_the_origin_rule_itself() -> None:
    base = "https://graph.microsoft.com/v1.0"
    assert origin_problem("https://graph.microsoft.com/v1.0/users?$skiptoken=x", base) is None
    assert origin_problem("https://GRAPH.microsoft.com:443/v1.0/users", base) is None
    assert origin_problem("https://graph.microsoft.com/v1.0/machines?$filter=a eq 'b'&$skip=2", base) is None
    for bad in ("https://evil:443\\@graph.microsoft.com/v1.0/x", "https://u@graph.microsoft.com/x",
                "https://graph.microsoft.com.evil.test/x", "https://graph.microsoft.com:8443/x",
                "http://graph.microsoft.com/x", "//graph.microsoft.com/x", "https://graph.microsoft.com\t/x",
                "https://graph.microsoft.com /x", "https://graph.microsoft.com/x\r\nHost: evil",
                "https://graph.microsoft.com%2f@evil/x", "https://[::1]/x"):
        assert origin_problem(bad, base), bad


# ------------------------------------------------------------------ 2. sign-in follows no redirect


@pytest.mark.parametrize(("method", "path", "status"), [
    pytest.param("GET", "/.well-known/openid-configuration", 302, id="metadata-302"),
    pytest.param("GET", "/.well-known/openid-configuration", 308, id="metadata-308"),
    pytest.param("POST", "/devicecode", 302, id="devicecode-302"),
    pytest.param("POST", "/devicecode", 308, id="devicecode-308"),
    pytest.param("POST", "/oauth2/v2.0/token", 307, id="device-code-poll-307"),
])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_no_sign_in_request_follows_a_redirect(server: HostileServer, listener: Listener, state_dir: Path, capsys,
                                               method: str, path: str, status: int, scheme: str) -> None:
    server.attack(method, path, redirect(status, f"{scheme}://127.0.0.1:{listener.port}/steal"))
    result = signin(server, state_dir, capsys)
    assert result.code == 3
    assert "redirect" in result.err.strip().splitlines()[-1]
    assert "follows no redirect, so nothing was sent there" in result.err
    assert listener.connections == 0


def test_cloud_detection_names_a_refused_metadata_redirect(server: HostileServer, listener: Listener,
                                                           state_dir: Path, capsys) -> None:
    """With --tenant and no --cloud the runtime reads the tenant's metadata itself (cloud detection): a
    redirect there is named as one, not as a host that could not be reached."""
    server.attack("GET", "/.well-known/openid-configuration", redirect(302, f"https://127.0.0.1:{listener.port}/x"))
    result = run_cli([*server_args(server, state_dir), "--tenant", "contoso.onmicrosoft.com", "--token-cache",
                      "memory", "signin"], capsys)
    assert_no_traceback(result.out, result.err, result.logs)
    assert result.code == 3
    assert "follows no redirect, so nothing was sent there" in result.err
    assert "could not be reached" not in result.err
    assert listener.connections == 0


def test_a_refresh_token_is_never_sent_after_a_redirect(server: HostileServer, listener: Listener,
                                                        state_dir: Path, capsys, memory_keyring) -> None:
    """The refresh token (a signed-in run, then every access token rejected) meets a 307 to plain http."""
    args = [*server_args(server, state_dir), "--token-cache", "keyring"]
    first = run_cli([*args, "signin"], capsys)
    assert first.code == 0, first.err
    server.cloud.expire_access_tokens()
    server.attack("POST", "/oauth2/v2.0/token", redirect(307, f"http://127.0.0.1:{listener.port}/steal"))
    answers = state_dir.parent / "answers.toml"
    answers.write_text(ANSWERS, encoding="utf-8")
    result = run_cli([*args, "check", "--no-interactive", "--answers", str(answers), "--format", "json"], capsys)
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([server.cloud], result.sources())
    assert listener.connections == 0
    assert result.code == 3
    assert "redirect" in result.out + result.err


# ------------------------------------------------------------------ 3. sizes


def test_an_endless_body_is_cut_at_the_cap_and_the_devices_are_unknown(server: HostileServer, state_dir: Path,
                                                                        capsys) -> None:
    attack = endless_json(b'{"value":[', DEVICE)
    server.attack("GET", "/mde/api/machines", attack)
    result, checks = check(server, state_dir, capsys)
    assert checks["devices.onboarded"]["status"] == "unknown"
    assert "larger than 64 MiB" in text_of(checks["devices.onboarded"])
    assert attack.sent["bytes"] < 200 * 2**20  # type: ignore[attr-defined]
    assert result.code == 3


def test_a_gzip_bomb_is_cut_at_the_inflated_cap(server: HostileServer, state_dir: Path, capsys) -> None:
    attack = gzip_bomb(b'{"value":[', DEVICE, 256 * 2**20)
    assert attack.size < 2 * 2**20  # type: ignore[attr-defined]
    server.attack("GET", "/mde/api/machines", attack)
    result, checks = check(server, state_dir, capsys)
    assert checks["devices.onboarded"]["status"] == "unknown"
    assert "larger than 64 MiB once inflated" in text_of(checks["devices.onboarded"])
    assert result.code == 3


def test_a_real_run_against_an_endless_body_stays_small(tmp_path: Path) -> None:
    """``dex-tui check`` in its own process: the 2 GB stream of the issue costs at most the cap."""
    script = f"""
import resource, sys, threading
sys.path.insert(0, {str(ROOT)!r})
from tests.hostile import HostileServer, endless_json
server = HostileServer("ready").start()
server.attack("GET", "/mde/api/machines", endless_json(b'{{"value":[', {DEVICE!r}))
import dex_tui.cli
code = dex_tui.cli.run(["--login-url", server.login_url, "--graph-url", server.graph_url, "--mde-url",
                        server.mde_url, "--ca-bundle", server.ca_file, "--state-dir", {str(tmp_path / "s")!r},
                        "--token-cache", "memory", "check", "--format", "json"])
print("RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
server.stop()
sys.exit(code)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    rss_kib = int(done.stderr.rsplit("RSS", 1)[1].split()[0])
    report = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert done.returncode == 3, done.stderr
    assert report["devices.onboarded"]["status"] == "unknown"
    assert rss_kib < 600 * 1024, f"{rss_kib / 1024:.0f} MiB resident"


def test_the_session_caps_wire_and_inflated_sizes(server: HostileServer) -> None:
    session = build_session(Path(server.ca_file), timeout=SHORT_TIMEOUT, max_bytes=2**20, max_inflated=2**20)
    server.attack("GET", "/big-declared", reply(200, b"x" * (2 * 2**20)))
    server.attack("GET", "/endless", endless_json(b"[", b"1"))
    server.attack("GET", "/bomb", gzip_bomb(b"[", b"1", 8 * 2**20))
    server.attack("GET", "/small", reply(200, b"x" * 1000))
    for path in ("/big-declared", "/endless", "/bomb"):
        with pytest.raises(ResponseTooLarge):
            session.get(f"{server.login_url}{path}")
    assert session.get(f"{server.login_url}/small").content == b"x" * 1000


# ------------------------------------------------------------------ 4. deadlines


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickled_answer_ends_at_the_whole_request_deadline(server: HostileServer, state_dir: Path, capsys,
                                                              monkeypatch, part: str) -> None:
    stop = threading.Event()
    body = b'{"value":[]'
    if part == "headers":
        server.attack("GET", "/mde/api/machines", trickle(HEAD + body + b"}", 0.2, stop))
    else:
        server.attack("GET", "/mde/api/machines", _fast_head_slow_body(body + b"}", 0.2, stop))
    limits(monkeypatch, deadline=2.0)
    started = time.monotonic()
    try:
        result, checks = check(server, state_dir, capsys)
    finally:
        stop.set()
    took = time.monotonic() - started
    assert checks["devices.onboarded"]["status"] == "unknown"
    assert "did not send its whole answer within 2 seconds" in text_of(checks["devices.onboarded"])
    assert server.requests_to("/mde/api/machines") == 1  # no retry of a trickle
    assert took < 15
    assert result.code == 3


def _fast_head_slow_body(body: bytes, every: float, stop: threading.Event) -> Any:
    def act(handler: Any) -> None:
        handler.wfile.write(HEAD.replace(b"11", str(len(body)).encode()))
        handler.wfile.flush()
        trickle(body, every, stop)(handler)

    return act


def test_a_trickled_sign_in_reply_ends_at_the_deadline(server: HostileServer, state_dir: Path, capsys,
                                                       monkeypatch) -> None:
    stop = threading.Event()
    server.attack("GET", "/.well-known/openid-configuration", trickle(HEAD + b'{"a": 1}  }', 0.2, stop))
    limits(monkeypatch, deadline=1.5)
    try:
        result = signin(server, state_dir, capsys)
    finally:
        stop.set()
    assert result.code == 3
    assert "did not send its whole answer within 1.5 seconds" in result.err


def test_the_session_deadline_covers_headers_and_body(server: HostileServer) -> None:
    stop = threading.Event()
    session = build_session(Path(server.ca_file), timeout=(2.0, 5.0), deadline=1.0)
    server.attack("GET", "/slow", trickle(HEAD + b"[1,2,3,4,5]", 0.3, stop))
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceeded):
            session.get(f"{server.login_url}/slow")
    finally:
        stop.set()
    assert time.monotonic() - started < 3


def test_the_session_refuses_redirects_itself(server: HostileServer, listener: Listener) -> None:
    session = build_session(Path(server.ca_file), timeout=SHORT_TIMEOUT)
    server.attack("*", "/moved", redirect(301, f"https://127.0.0.1:{listener.port}/x"))
    with pytest.raises(RedirectRefused):
        session.get(f"{server.login_url}/moved")
    with pytest.raises(requests.RequestException):  # requests' own API: RedirectRefused is one of its errors
        session.post(f"{server.login_url}/moved", data={"refresh_token": "r"})
    assert listener.connections == 0


# ------------------------------------------------------------------ 6. the device code interval


@pytest.mark.parametrize("interval", [0, -5, "0", None, "soon", 1e12])
def test_the_poll_interval_is_clamped(interval: Any) -> None:
    flow = bound_flow({"interval": interval, "expires_in": 900}, now=lambda: 1000.0)
    assert 1 <= flow["interval"] <= MAX_INTERVAL
    assert flow["expires_at"] == 1900.0


@pytest.mark.parametrize("expires_in", [0, -1, 10**9, "x"])
def test_the_code_lifetime_is_clamped(expires_in: Any) -> None:
    flow = bound_flow({"interval": 5, "expires_in": expires_in}, now=lambda: 0.0)
    assert 1 <= flow["expires_in"] <= 3600
    assert flow["expires_at"] == flow["expires_in"]


def _device_code_with(**changes: Any) -> Any:
    def change(body: Any) -> Any:
        return {**body, **changes}

    return rewrite(change)


@pytest.mark.parametrize("interval", [0, -3])
def test_a_zero_or_negative_interval_polls_once_a_second_and_honours_the_expiry(server: HostileServer,
                                                                                 state_dir: Path, capsys,
                                                                                 interval: int) -> None:
    server.cloud.scenario = server.cloud.scenario.with_knobs(device_code={"approval": "on_demand"})
    server.attack("POST", "/devicecode", _device_code_with(interval=interval, expires_in=3))
    started = time.monotonic()
    result = signin(server, state_dir, capsys)
    took = time.monotonic() - started
    polls = server.requests_to("/oauth2/v2.0/token", "POST")
    assert result.code == 3
    assert "expired" in result.err.strip().splitlines()[-1]
    assert server.requests_to("/devicecode") == 3  # a new code, twice, then the clear error
    assert polls <= 3 * 5, f"{polls} token requests in {took:.1f} s: a busy loop"
    assert took < 30


def test_cancel_stops_the_polling_at_once_with_interval_zero(server: HostileServer, state_dir: Path) -> None:
    from dex_tui.auth import Authenticator, SignInCancelled
    from dex_tui.token_cache import TokenCacheStore

    server.cloud.scenario = server.cloud.scenario.with_knobs(device_code={"approval": "on_demand"})
    server.attack("POST", "/devicecode", _device_code_with(interval=0))
    session = build_session(Path(server.ca_file), timeout=SHORT_TIMEOUT)
    auth = Authenticator(client_id="04b07795-8ddb-461a-bbee-02f9e1bf7b46", login_url=server.login_url,
                         tenant="organizations", session=session, store=TokenCacheStore("memory", None))
    prompt = auth.start_device_flow()
    assert prompt.interval == 1
    cancelled = threading.Event()
    threading.Timer(1.0, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(SignInCancelled):
        auth.complete_device_flow(prompt, cancelled.is_set)
    assert time.monotonic() - started < 3.0
    assert server.requests_to("/oauth2/v2.0/token", "POST") <= 3


# ------------------------------------------------------------------ 7. wrong-shape items


@pytest.mark.parametrize("status", [["Onboarded"], None, 1, {"x": 1}])
def test_wrong_shape_device_items_make_the_devices_unknown(server: HostileServer, state_dir: Path, capsys,
                                                           status: Any) -> None:
    items = [{"id": f"m{n}", "onboardingStatus": status, "healthStatus": "Active"} for n in range(3)]
    server.attack("GET", "/mde/api/machines", json_reply({"value": items}))
    result, checks = check(server, state_dir, capsys)
    assert checks["devices.onboarded"]["status"] == "unknown"
    assert "onboardingStatus" in text_of(checks["devices.onboarded"])
    assert result.code == 3


@pytest.mark.parametrize("item", [[1, 2], "a device", None, 7])
def test_a_device_that_is_not_an_object_makes_the_devices_unknown(server: HostileServer, state_dir: Path, capsys,
                                                                  item: Any) -> None:
    good = {"id": "m1", "onboardingStatus": "Onboarded", "healthStatus": "Active"}
    server.attack("GET", "/mde/api/machines", json_reply({"value": [good, item]}))
    result, checks = check(server, state_dir, capsys)
    assert checks["devices.onboarded"]["status"] == "unknown"
    assert result.code == 3


# ------------------------------------------------------------------ 15. wrong-shape identity replies


@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("GET", "/.well-known/openid-configuration", {}, id="metadata-{}"),
    pytest.param("GET", "/.well-known/openid-configuration", [], id="metadata-[]"),
    pytest.param("GET", "/.well-known/openid-configuration", None, id="metadata-null"),
    pytest.param("POST", "/devicecode", [], id="devicecode-[]"),
    pytest.param("POST", "/devicecode", None, id="devicecode-null"),
    pytest.param("POST", "/devicecode", {"user_code": ["x"], "device_code": "d"}, id="devicecode-bad-user-code"),
    pytest.param("POST", "/oauth2/v2.0/token", {"token_type": "Bearer"}, id="token-without-access-token"),
    pytest.param("POST", "/oauth2/v2.0/token", [], id="token-[]"),
])
def test_a_wrong_shape_identity_reply_is_a_clear_error(server: HostileServer, state_dir: Path, capsys,
                                                       method: str, path: str, body: Any) -> None:
    server.attack(method, path, json_reply(body))
    result = signin(server, state_dir, capsys)
    last = result.err.strip().splitlines()[-1]
    assert result.code == 3, result.err
    assert "Internal error" not in result.err and "Please report" not in result.err
    assert "--login-url" in last


def test_a_netrc_password_never_replaces_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests reads ~/.netrc when a session trusts the environment; a `default` entry would replace
    the bearer token (and go to Graph and the identity platform) without the session's own auth."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login someone password s3cret\nmachine graph.microsoft.com login a password b\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    session = build_session()
    graph = session.prepare_request(requests.Request("GET", "https://graph.microsoft.com/v1.0/me",
                                                     headers={"Authorization": "Bearer token"}))
    token = session.prepare_request(requests.Request("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                                                     data={"grant_type": "device_code"}))
    assert graph.headers["Authorization"] == "Bearer token"
    assert "Authorization" not in token.headers
    assert requests.Session().prepare_request(requests.Request("GET", "https://graph.microsoft.com/")).headers[
        "Authorization"].startswith("Basic ")  # what a plain session would have sent
