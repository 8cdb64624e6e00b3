"""Behaviour knobs through the in-process adapter: throttling, 5xx, timeouts, resets, malformed and
truncated bodies, latency through the injected sleep, per endpoint and per call; and thread safety."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo.testing import demo_session, device_code_tokens, signed_in

G = "https://graph.demo.test/v1.0"


def _faulty(*faults, name: str = "ready", **knobs):
    scenario = load_scenario(name).with_faults(*faults)
    if knobs:
        scenario = scenario.with_knobs(**knobs)
    return scenario


def _signed(scenario, sleep=None):
    cloud = FakeCloud(scenario, sleep=sleep or (lambda seconds: None))
    session, graph, mde = signed_in(cloud)
    return cloud, session, {"Authorization": f"Bearer {graph}"}, {"Authorization": f"Bearer {mde}"}


def test_throttle_first_n_calls_then_succeed() -> None:
    _, session, headers, _ = _signed(_faulty({"endpoint": "graph.subscribedSkus", "kind": "throttle", "count": 2,
                                               "retry_after": 3}))
    statuses = []
    for _ in range(3):
        response = session.get(f"{G}/subscribedSkus", headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "3"
            assert response.json()["error"]["code"] == "TooManyRequests"
    assert statuses == [429, 429, 200]
    assert session.get(f"{G}/me", headers=headers).status_code == 200  # other endpoints untouched


def test_throttled_scenario_throttles_graph_and_mde() -> None:
    cloud, session, headers, mde = _signed(load_scenario("throttled"))
    assert session.get(f"{G}/subscribedSkus", headers=headers).status_code == 429
    response = session.get("https://mde.demo.test/api/deviceavinfo", headers=mde)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert set(response.json()["error"]) == {"code", "message", "target"}
    assert session.get("https://mde.demo.test/api/deviceavinfo", headers=mde).status_code == 200


def test_status_fault_skip_and_count() -> None:
    _, session, headers, _ = _signed(_faulty({"endpoint": "graph.me", "kind": "status", "status": 503,
                                              "skip": 1, "count": 1}))
    assert [session.get(f"{G}/me", headers=headers).status_code for _ in range(3)] == [200, 503, 200]


def test_wildcard_endpoint_and_always() -> None:
    _, session, headers, mde = _signed(_faulty({"endpoint": "mde.*", "kind": "status", "status": 500, "count": 0}))
    for _ in range(3):
        assert session.get("https://mde.demo.test/api/machines", headers=mde).status_code == 500
    assert session.get(f"{G}/me", headers=headers).status_code == 200


def test_timeout_raises_read_timeout() -> None:
    _, session, headers, _ = _signed(_faulty({"endpoint": "graph.organization", "kind": "timeout"}))
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{G}/organization", headers=headers)
    assert session.get(f"{G}/organization", headers=headers).status_code == 200


def test_reset_raises_connection_error() -> None:
    _, session, _, mde = _signed(_faulty({"endpoint": "mde.machines", "kind": "reset"}))
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.get("https://mde.demo.test/api/machines", headers=mde)
    assert "reset" in str(caught.value).lower()


def test_malformed_body_is_not_json() -> None:
    _, session, headers, _ = _signed(_faulty({"endpoint": "graph.caPolicies", "kind": "malformed"}))
    response = session.get(f"{G}/identity/conditionalAccess/policies", headers=headers)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_truncated_page_raises_chunked_encoding_error() -> None:
    _, session, headers, _ = _signed(_faulty({"endpoint": "graph.users", "kind": "truncated", "skip": 1}))
    first = session.get(f"{G}/users", headers=headers, params={"$top": "100"}).json()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(first["@odata.nextLink"], headers=headers)


def test_latency_goes_through_the_injected_sleep() -> None:
    slept: list[float] = []
    scenario = _faulty({"endpoint": "graph.me", "kind": "latency", "latency_ms": 1500, "count": 0}, latency_ms=20)
    _, session, headers, _ = _signed(scenario, sleep=slept.append)
    slept.clear()
    session.get(f"{G}/me", headers=headers)
    session.get(f"{G}/organization", headers=headers)
    assert slept == [1.52, 0.02]


def test_sign_in_endpoints_can_fail_too() -> None:
    cloud = FakeCloud(_faulty({"endpoint": "login.token", "kind": "status", "status": 503}))
    session = demo_session(cloud)
    root = f"https://login.demo.test/{cloud.scenario.tenant_id}/oauth2/v2.0"
    code = session.post(f"{root}/devicecode", data={"client_id": "x", "scope": "User.Read"}).json()
    failed = session.post(f"{root}/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                                 "client_id": "x", "device_code": code["device_code"]})
    assert failed.status_code == 503 and failed.json()["error"] == "temporarily_unavailable"
    throttled = FakeCloud(_faulty({"endpoint": "login.openid", "kind": "throttle", "retry_after": 5}))
    reply = throttled.handle("GET", f"https://login.demo.test/{cloud.scenario.tenant_id}/v2.0/.well-known/"
                                    "openid-configuration")
    assert reply.status == 429 and reply.headers["Retry-After"] == "5"


def test_request_log_counts_every_request() -> None:
    cloud, session, headers, _ = _signed(load_scenario("ready"))
    before = len(cloud.request_log)
    session.get(f"{G}/me", headers=headers)
    session.get("https://graph.demo.test/v1.0/users/$count", headers={**headers, "ConsistencyLevel": "eventual"})
    assert cloud.request_log[before:] == [("GET", "graph.demo.test", "/v1.0/me"),
                                          ("GET", "graph.demo.test", "/v1.0/users/$count")]


def test_concurrent_requests_and_portal_calls_are_safe() -> None:
    cloud, session, headers, _ = _signed(load_scenario("fresh"))
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(30):
                assert session.get(f"{G}/identity/conditionalAccess/policies", headers=headers).status_code == 200
                assert session.get(f"{G}/subscribedSkus", headers=headers).status_code == 200
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    cloud.portal.give_access()
    cloud.portal.place_licence_order("hunting")
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cloud.request_log) >= 240


def test_issued_secrets_cover_every_kind() -> None:
    cloud = FakeCloud(load_scenario("ready"))
    session = demo_session(cloud)
    tokens = device_code_tokens(session, cloud)
    secrets = cloud.issued_secrets()
    assert {tokens["access_token"], tokens["refresh_token"], tokens["id_token"]} <= secrets
    assert any(s.startswith("DAQABAAEAAAD-demo-") for s in secrets)
    assert all(len(s) > 20 for s in secrets)
