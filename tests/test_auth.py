"""Sign-in against the fake cloud: the device flow and its outcomes, silent reuse, tokens, consent,
accounts, sign-out, cloud detection, and the real HTTPS transport."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from dex_tui.auth import (
    AccountChoiceRequired,
    Authenticator,
    ConditionalAccessBlocked,
    ConsentRequired,
    DeviceCodeExpired,
    DeviceCodePrompt,
    SignedIn,
    SignInCancelled,
    SignInDeclined,
    SignInRequired,
    TenantNotFound,
    classify_flow_error,
    token_claims,
)
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.errors import ExitCode, NetworkError, SignInError
from dex_tui.runtime import Runtime
from dex_tui.scopes import GRAPH_SCOPES
from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL, Settings
from dex_tui.token_cache import TokenCacheStore, default_cache_path

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


def fake(name: str = "ready", **device_code: object) -> FakeCloud:
    scenario = load_scenario(name)
    if device_code:
        scenario = scenario.with_knobs(device_code=device_code)
    return FakeCloud(scenario)


def demo_runtime(fake_cloud: FakeCloud, **settings: object) -> Runtime:
    """A demo-mode runtime on ``cloud`` (memory cache)."""
    return Runtime(Settings(demo=fake_cloud.scenario.name, **settings), fake_cloud=fake_cloud)


def keyring_runtime(cloud: FakeCloud, state_dir: Path, **settings: object) -> Runtime:
    """A non-demo run pointed at the fake's hosts, with the real keyring-backed cache in ``state_dir``."""
    return Runtime(Settings(login_url=DEMO_LOGIN_URL, graph_url=DEMO_GRAPH_URL, mde_url=DEMO_MDE_URL,
                            state_dir=state_dir, token_cache="keyring", **settings), fake_cloud=cloud)


def sign_in(runtime: Runtime) -> SignedIn:
    auth = runtime.authenticator()
    return auth.complete_device_flow(auth.start_device_flow())


def graph_get(runtime: Runtime, path: str, token: str) -> int:
    url = f"{runtime.endpoints().graph_url}/v1.0{path}"
    return runtime.session.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


def token_posts(cloud: FakeCloud) -> int:
    return sum(1 for method, _host, path in cloud.request_log if method == "POST" and path.endswith("/token"))


def age_cached_access_tokens(store: TokenCacheStore) -> None:
    """Make MSAL see every cached access token as about to expire (it refreshes under 5 minutes)."""
    kind = store.cache.CredentialType.ACCESS_TOKEN
    for entry in list(store.cache.search(kind)):
        store.cache.modify(kind, entry, {"expires_on": str(int(time.time()) + 60)})


# -- the device flow ------------------------------------------------------------------------------


def test_whole_device_flow_then_silent_tokens_for_graph_and_mde() -> None:
    cloud = fake()
    runtime = demo_runtime(cloud)
    auth = runtime.authenticator()
    assert auth.restore() is None  # nothing cached yet
    prompt = auth.start_device_flow()
    assert prompt.user_code == "DEMO-4821"
    assert prompt.verification_uri == "https://login.demo.test/devicelogin" and prompt.link_allowed
    assert 800 < prompt.seconds_left() <= 900
    assert "DEMO-4821" in prompt.instruction()

    signed = auth.complete_device_flow(prompt)
    operator = cloud.scenario.operator
    assert (signed.username, signed.display_name) == (operator.upn, operator.display_name)
    assert signed.tenant_id == cloud.scenario.tenant_id
    assert signed.method == "device_code"
    assert GLOBAL_ADMIN in signed.role_template_ids and "Global Administrator" in signed.role_names
    assert signed.may_manage_defender_experts
    assert {s.lower() for s in signed.granted_scopes} == {s.lower() for s in GRAPH_SCOPES}
    assert signed.missing_scopes == ()
    assert auth.signed_in == signed

    posts = token_posts(cloud)
    graph = runtime.graph_token()
    assert token_posts(cloud) == posts  # silent: served from the cache
    assert graph_get(runtime, "/me", graph) == 200
    mde = runtime.mde_token()  # a separate token for the other resource, by refresh token
    assert token_posts(cloud) == posts + 1
    assert token_claims(mde)["aud"] == cloud.scenario.cloud.mde_resource
    machines = runtime.session.get(f"{runtime.endpoints().mde_url}/api/machines",
                                   headers={"Authorization": f"Bearer {mde}"})
    assert machines.status_code == 200


def test_repr_of_prompt_and_sign_in_hold_no_secret() -> None:
    cloud = fake()
    runtime = demo_runtime(cloud)
    auth = runtime.authenticator()
    prompt = auth.start_device_flow()
    signed = auth.complete_device_flow(prompt)
    runtime.graph_token()
    texts = repr(prompt) + str(prompt) + repr(signed) + str(signed)
    secrets = cloud.issued_secrets()
    assert secrets and not any(secret in texts for secret in secrets)


def test_cancel_returns_within_a_second_and_a_half() -> None:
    cloud = fake(approval="on_demand")
    auth = demo_runtime(cloud).authenticator()
    prompt = auth.start_device_flow()
    cancel = threading.Event()
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            auth.complete_device_flow(prompt, cancel.is_set)
        except SignInError as error:
            outcome["error"], outcome["at"] = error, time.monotonic()

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.3)
    cancelled_at = time.monotonic()
    cancel.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], SignInCancelled)
    assert float(outcome["at"]) - cancelled_at < 1.5  # type: ignore[arg-type]
    assert outcome["error"].exit_code == ExitCode.CANNOT_EVALUATE  # type: ignore[union-attr]


def test_expired_code_is_reissued_and_the_second_one_works() -> None:
    cloud = fake(approval="on_demand", expires_in=1)
    auth = demo_runtime(cloud).authenticator()
    shown: list[DeviceCodePrompt] = []

    def show(prompt: DeviceCodePrompt) -> None:
        shown.append(prompt)
        if len(shown) == 2:
            cloud.approve_device_code()  # the operator enters the second code in time

    signed = auth.sign_in_with_device_code(show, max_codes=3)
    assert len(shown) == 2 and signed.method == "device_code"
    assert shown[0]._flow["device_code"] != shown[1]._flow["device_code"]


def test_expiry_reported_by_the_server_and_after_the_last_code() -> None:
    cloud = fake(approval="expire")
    auth = demo_runtime(cloud).authenticator()
    with pytest.raises(DeviceCodeExpired) as caught:
        auth.complete_device_flow(auth.start_device_flow())
    assert "expired" in caught.value.explanation and caught.value.next_step
    shown: list[DeviceCodePrompt] = []
    with pytest.raises(DeviceCodeExpired):
        auth.sign_in_with_device_code(shown.append, max_codes=2)
    assert len(shown) == 2


def test_declined() -> None:
    auth = demo_runtime(fake(approval="decline")).authenticator()
    with pytest.raises(SignInDeclined) as caught:
        auth.complete_device_flow(auth.start_device_flow())
    assert caught.value.exit_code == ExitCode.CANNOT_EVALUATE and caught.value.next_step


def test_conditional_access_block_is_explained_with_alternatives() -> None:
    auth = demo_runtime(fake("ca-blocks-device-code")).authenticator()
    with pytest.raises(ConditionalAccessBlocked) as caught:
        auth.complete_device_flow(auth.start_device_flow())
    error = caught.value
    assert error.aadsts == 53003 and error.exit_code == ExitCode.CANNOT_EVALUATE
    assert "Conditional Access" in error.explanation and "device code" in error.explanation
    for alternative in ("browser", "ssh -L", "compliant device"):
        assert alternative in error.next_step


def test_each_attempt_uses_a_fresh_msal_app() -> None:
    auth = demo_runtime(fake(approval="decline")).authenticator()
    first, second = auth.start_device_flow(), auth.start_device_flow()
    assert first._app is not second._app


# -- silent reuse, refresh, revocation -------------------------------------------------------------


def test_silent_reuse_across_two_runs_with_a_keyring(memory_keyring, state_dir: Path) -> None:
    cloud = fake()
    first = keyring_runtime(cloud, state_dir)
    signed = sign_in(first)
    assert first.cache_notices() == [] and first.cache_store.persistent
    assert default_cache_path(state_dir).is_file()
    first.close()

    requests_before = len(cloud.request_log)
    second = keyring_runtime(cloud, state_dir)
    again = second.authenticator().restore()
    assert again is not None and again.method == "cache"
    assert (again.username, again.tenant_id, again.role_template_ids) == \
        (signed.username, signed.tenant_id, signed.role_template_ids)
    assert again.display_name == signed.display_name
    new_calls = cloud.request_log[requests_before:]
    assert not any(path.endswith(("/token", "/devicecode")) for _m, _h, path in new_calls)
    assert graph_get(second, "/me", second.graph_token()) == 200


def test_no_keyring_means_memory_only_and_one_notice(state_dir: Path) -> None:
    cloud = fake()
    runtime = keyring_runtime(cloud, state_dir)
    sign_in(runtime)
    runtime.graph_token()
    notices = runtime.cache_notices()
    assert len(notices) == 1 and "not be remembered" in notices[0].title
    assert not runtime.cache_store.persistent
    assert list(state_dir.iterdir()) == []  # nothing written, in particular no plaintext cache
    assert keyring_runtime(cloud, state_dir).authenticator().restore() is None  # the next run starts over


def test_corrupt_cache_file_means_sign_in_again_with_a_notice(memory_keyring, state_dir: Path) -> None:
    path = default_cache_path(state_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage")
    runtime = keyring_runtime(fake(), state_dir)
    auth = runtime.authenticator()
    assert auth.restore() is None
    assert any("could not be used" in n.title for n in runtime.cache_notices())
    sign_in(runtime)  # and the run goes on
    assert path.is_file()


def test_refresh_token_grant_after_the_access_token_expires() -> None:
    cloud = fake()
    runtime = demo_runtime(cloud)
    sign_in(runtime)
    old = runtime.graph_token()
    cloud.expire_access_tokens()  # the server now refuses it
    assert graph_get(runtime, "/me", old) == 401
    posts = token_posts(cloud)
    fresh = runtime.graph_token(force_refresh=True)
    assert fresh != old and token_posts(cloud) == posts + 1
    assert graph_get(runtime, "/me", fresh) == 200

    age_cached_access_tokens(runtime.cache_store)  # expiry seen by MSAL itself: silent refresh
    newer = runtime.graph_token()
    assert newer != fresh and token_posts(cloud) == posts + 2


def test_revoked_refresh_token_leads_back_to_sign_in(memory_keyring, state_dir: Path) -> None:
    cloud = fake()
    first = keyring_runtime(cloud, state_dir)
    sign_in(first)
    cloud.revoke_refresh_tokens()
    with pytest.raises(SignInRequired) as caught:
        first.graph_token(force_refresh=True)
    assert caught.value.exit_code == ExitCode.CANNOT_EVALUATE and "Sign in again" in caught.value.next_step

    age_cached_access_tokens(first.cache_store)
    first.cache_store.save()
    second = keyring_runtime(cloud, state_dir)
    with pytest.raises(SignInRequired):
        second.authenticator().restore()
    signed = sign_in(second)  # a new device code sign-in replaces the dead session
    assert graph_get(second, "/me", second.graph_token()) == 200
    assert signed.method == "device_code"


def test_not_signed_in_means_sign_in_required() -> None:
    runtime = demo_runtime(fake())
    with pytest.raises(SignInRequired):
        runtime.graph_token()


# -- consent and scopes ----------------------------------------------------------------------------


def test_missing_graph_consent_fails_the_sign_in_with_an_explanation() -> None:
    scenario = load_scenario("ready").with_knobs(missing_consent=["Policy.Read.All"])
    auth = demo_runtime(FakeCloud(scenario)).authenticator()
    with pytest.raises(ConsentRequired) as caught:
        auth.complete_device_flow(auth.start_device_flow())
    assert "AADSTS65001" in caught.value.explanation
    assert "Global Administrator" in caught.value.next_step and "Policy.Read.All" in caught.value.scopes


def test_missing_mde_consent_names_the_scope_and_who_can_consent() -> None:
    scenario = load_scenario("ready").with_knobs(missing_consent=["Machine.Read"])
    runtime = demo_runtime(FakeCloud(scenario))
    sign_in(runtime)
    assert runtime.graph_token()
    with pytest.raises(ConsentRequired) as caught:
        runtime.mde_token()
    error = caught.value
    assert error.scopes == ("Machine.Read",)
    assert "Machine.Read" in error.explanation and "WindowsDefenderATP" in error.explanation
    assert "Global Administrator" in error.explanation


def test_a_token_lacking_a_scope_is_reported() -> None:
    signed_scopes = ("User.Read", "Organization.Read.All")
    from dex_tui.auth import explain_missing_scopes, missing_from

    missing = missing_from(GRAPH_SCOPES, signed_scopes)
    assert "ThreatHunting.Read.All" in missing and "User.Read" not in missing
    text = explain_missing_scopes(["ThreatHunting.Read.All"])
    assert "hunting" in text and "Global Administrator" in text


# -- accounts and sign-out --------------------------------------------------------------------------


def test_several_cached_accounts_ask_for_a_choice_then_reuse_the_chosen_one() -> None:
    store = TokenCacheStore("memory", None)
    ready, gcc = fake("ready"), fake("gcc")
    sign_in(Runtime(Settings(demo="ready"), fake_cloud=ready, cache_store=store))
    sign_in(Runtime(Settings(demo="gcc"), fake_cloud=gcc, cache_store=store))

    auth = Runtime(Settings(demo="gcc"), fake_cloud=gcc, cache_store=store).authenticator()
    with pytest.raises(AccountChoiceRequired) as caught:
        auth.restore()
    usernames = sorted(a.username for a in caught.value.accounts)
    assert usernames == sorted([ready.scenario.operator.upn, gcc.scenario.operator.upn])
    chosen = auth.choose_account(gcc.scenario.operator.upn.upper())
    signed = auth.restore(chosen)
    assert signed is not None and signed.username == gcc.scenario.operator.upn and signed.method == "cache"

    removed = auth.sign_out(chosen)
    assert len(removed) == 1
    assert [a.username for a in auth.accounts()] == [ready.scenario.operator.upn]
    with pytest.raises(SignInRequired):
        auth.choose_account("nobody@example.com")


def test_sign_out_everyone_removes_file_and_key(memory_keyring, state_dir: Path) -> None:
    runtime = keyring_runtime(fake(), state_dir)
    sign_in(runtime)
    removed = runtime.authenticator().sign_out()
    assert any("account" in r for r in removed) and any("file" in r for r in removed)
    assert not default_cache_path(state_dir).exists() and memory_keyring.store == {}
    assert runtime.authenticator().signed_in is None
    with pytest.raises(SignInRequired):
        runtime.graph_token()


# -- cloud detection and errors before sign-in ------------------------------------------------------


def test_cloud_detected_from_openid_metadata_is_a_hint() -> None:
    cloud = fake("gcc")
    runtime = demo_runtime(cloud, tenant=cloud.scenario.tenant_id)
    choice = runtime.resolve_cloud()
    assert (choice.cloud.name, choice.source, choice.is_hint) == ("gcc", "detected", True)
    assert "hint" in choice.note and "GCC" in choice.note
    assert demo_runtime(fake("gcc"), cloud="commercial").resolve_cloud().source == "option"


def test_cloud_detected_after_sign_in_when_no_tenant_was_given() -> None:
    cloud = fake("gcc-high")
    runtime = demo_runtime(cloud)
    assert runtime.resolve_cloud().source == "assumed"
    sign_in(runtime)
    assert runtime.resolve_cloud().cloud.name == "gcchigh"


def test_unknown_tenant_is_explained() -> None:
    runtime = demo_runtime(fake(), tenant="nosuchtenant.onmicrosoft.com")
    with pytest.raises(TenantNotFound) as caught:
        runtime.authenticator()
    assert "AADSTS90002" in caught.value.explanation and "--tenant" in caught.value.next_step


def test_unreachable_identity_provider_is_a_network_error() -> None:
    from dex_tui.http import build_session

    store = TokenCacheStore("memory", None)
    auth = Authenticator(client_id="14d82eec-204b-4c2f-b7e8-296a70dab67e", login_url="https://login.invalid",
                         tenant="organizations", session=build_session(timeout=(0.5, 0.5)), store=store)
    with pytest.raises(NetworkError) as caught:
        auth.start_device_flow()
    assert caught.value.exit_code == ExitCode.CANNOT_EVALUATE and "login.invalid" in caught.value.explanation


@pytest.mark.parametrize(("reply", "kind"), [
    ({"error": "invalid_client", "error_codes": [7000218]}, "app_not_usable"),
    ({"error": "invalid_request", "error_codes": [700016]}, "app_not_usable"),
    ({"error": "invalid_grant", "error_codes": [53000]}, "ca_blocked"),
    ({"error": "invalid_grant", "error_description": "AADSTS65001: no consent"}, "consent_required"),
    ({"error": "interaction_required", "error_codes": [50076]}, "signin_required"),
    ({"error": "access_denied"}, "declined"),
    ({"error": "server_error", "error_description": "AADSTS90000: \x1b[31mred\x1b[0m\nTrace ID: x"}, "idp_error"),
])
def test_classification_of_error_replies(reply: dict, kind: str) -> None:
    error = classify_flow_error(reply, context="Testing")
    assert error.code == kind and error.next_step  # type: ignore[attr-defined]
    assert "\x1b" not in error.explanation and "Trace ID" not in error.explanation


# -- secrets ---------------------------------------------------------------------------------------


def test_no_token_or_device_code_in_logs_or_output(caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    cloud = fake()
    runtime = demo_runtime(cloud)
    auth = runtime.authenticator()
    prompt = auth.start_device_flow()
    print(prompt.instruction(), prompt)
    signed = auth.complete_device_flow(prompt)
    print(signed)
    runtime.graph_token()
    runtime.mde_token()
    cloud.expire_access_tokens()
    runtime.graph_token(force_refresh=True)
    cloud.revoke_refresh_tokens()
    with pytest.raises(SignInRequired) as caught:
        runtime.graph_token(force_refresh=True)
    print(caught.value.one_line())
    out, err = capsys.readouterr()
    secrets = cloud.issued_secrets()
    assert len(secrets) >= 5
    everything = caplog.text + out + err
    assert "DEMO-4821" in out  # the user code is allowed
    leaked = [s[:12] for s in secrets if s in everything]
    assert leaked == []


# -- the real transport ----------------------------------------------------------------------------


def test_device_flow_and_tokens_over_loopback_https(tmp_path: Path) -> None:
    from dex_tui.demo import DemoServer

    cloud = fake()
    with DemoServer(cloud) as server:
        settings = Settings(login_url=server.login_url, graph_url=server.graph_url, mde_url=server.mde_url,
                            ca_bundle=Path(server.ca_file), token_cache="memory", state_dir=tmp_path)
        runtime = Runtime(settings)
        signed = sign_in(runtime)
        assert signed.username == cloud.scenario.operator.upn
        assert graph_get(runtime, "/me", runtime.graph_token()) == 200
        machines = runtime.session.get(f"{server.mde_url}/api/machines",
                                       headers={"Authorization": f"Bearer {runtime.mde_token()}"})
        assert machines.status_code == 200
        runtime.close()


def test_untrusted_certificate_is_explained(tmp_path: Path) -> None:
    from dex_tui.demo import DemoServer

    with DemoServer(fake()) as server:
        runtime = Runtime(Settings(login_url=server.login_url, token_cache="memory", state_dir=tmp_path))
        with pytest.raises(NetworkError) as caught:
            runtime.authenticator().start_device_flow()
        assert "--ca-bundle" in caught.value.next_step


def test_a_busy_refresh_names_the_status_and_the_next_call_uses_a_fresh_app() -> None:
    """Silent tokens are not retried here (the Graph client has its own retries), but a 503 says what
    it is, and MSAL's cached error reply never blocks the next call (the app is rebuilt)."""
    from dex_tui.auth import IdentityProviderUnavailable

    cloud = FakeCloud(load_scenario("ready").with_faults(
        {"endpoint": "login.token", "kind": "status", "status": 503, "skip": 1, "count": 1}))
    runtime = demo_runtime(cloud)
    sign_in(runtime)
    with pytest.raises(IdentityProviderUnavailable) as caught:
        runtime.graph_token(force_refresh=True)
    assert caught.value.exit_code == ExitCode.CANNOT_EVALUATE and caught.value.status == 503
    assert "answered HTTP 503 (AADSTS90033, temporarily unavailable) while getting a Microsoft Graph token" \
        in caught.value.explanation
    assert graph_get(runtime, "/me", runtime.graph_token(force_refresh=True)) == 200
