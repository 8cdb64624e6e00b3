"""The Graph / Defender for Endpoint client: tokens, retries, paging, $count, $batch, typed errors."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from graph_fakes import TOKEN, Seen, make_client

from dex_tui.errors import CannotEvaluate, Interrupted
from dex_tui.graph import BatchRequest, GraphClient, GraphError, build_query
from dex_tui.http import HttpSession, parse_retry_after
from dex_tui.settings import Endpoints


def _ok(body: object) -> tuple[int, dict[str, str], object]:
    return 200, {}, body


def _graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    return status, headers or {}, {"error": {"code": code, "message": message}}


def _assert_no_token(error: BaseException) -> None:
    text = f"{error} {getattr(error, 'reason', lambda: '')()} {getattr(error, 'title', '')}"
    assert "SECRET-TOKEN-VALUE" not in text


def test_get_sends_bearer_token_accept_and_timeout() -> None:
    client, adapter, _ = make_client(lambda seen: _ok({"value": [{"id": "org"}]}), timeout=(1.0, 2.0))
    data = client.get_json("graph", "/organization", read="organization")
    assert data == {"value": [{"id": "org"}]}
    seen = adapter.seen[0]
    assert seen.url == "https://graph.unit.test/v1.0/organization"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/json"
    assert seen.timeout == (1.0, 2.0)
    assert client.requests_made == 1


def test_mde_uses_its_own_root_and_token() -> None:
    client, adapter, _ = make_client(lambda seen: _ok({"value": []}))
    client.get_json("mde", "/machines", params={"$top": 5})
    assert adapter.seen[0].url == "https://mde.unit.test/api/machines?$top=5"
    assert adapter.seen[0].headers["Authorization"] == f"Bearer MDE-{TOKEN}"


def test_query_strings_keep_odata_readable() -> None:
    assert build_query({"$filter": "userType eq 'Member'", "$top": 10}) == "$filter=userType%20eq%20'Member'&$top=10"
    assert build_query(None) == ""


def test_token_provider_is_called_on_every_attempt() -> None:
    tokens = iter(["first", "second"])
    replies = iter([_graph_error(503, "serviceUnavailable", "busy"), _ok({"ok": True})])
    client, adapter, _ = make_client(lambda seen: next(replies))
    client._tokens["graph"] = lambda: next(tokens)
    client.get_json("graph", "/me")
    assert [s.headers["Authorization"] for s in adapter.seen] == ["Bearer first", "Bearer second"]


def test_429_honours_retry_after_seconds() -> None:
    replies = iter([_graph_error(429, "TooManyRequests", "slow down", {"Retry-After": "7"}), _ok({"v": 1})])
    client, adapter, sleeps = make_client(lambda seen: next(replies))
    assert client.get_json("graph", "/subscribedSkus") == {"v": 1}
    assert sleeps == [7.0]
    assert len(adapter.seen) == 2


def test_429_honours_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(when, usegmt=True)) <= 31
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


def test_429_without_retry_after_backs_off_exponentially_with_a_cap() -> None:
    replies = iter([_graph_error(429, "TooManyRequests", "x")] * 4 + [_ok({})])
    client, _, sleeps = make_client(lambda seen: next(replies), backoff_base=1.0, backoff_cap=3.0)
    client.get_json("graph", "/me")
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_persistent_429_gives_a_throttled_error_after_bounded_attempts() -> None:
    client, adapter, sleeps = make_client(
        lambda seen: _graph_error(429, "TooManyRequests", "x", {"Retry-After": "2"}), max_attempts=3)
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/subscribedSkus", read="subscribed_skus")
    assert info.value.kind == "throttled"
    assert info.value.status == 429
    assert len(adapter.seen) == 3
    assert sleeps == [2.0, 2.0]
    assert "throttled" in info.value.reason() and "/v1.0/subscribedSkus" in info.value.reason()
    assert isinstance(info.value, CannotEvaluate)


def test_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    client, adapter, sleeps = make_client(
        lambda seen: _graph_error(429, "TooManyRequests", "x", {"Retry-After": "3600"}), max_retry_after=60)
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/me")
    assert sleeps == [] and len(adapter.seen) == 1
    assert "3600" in info.value.reason()


def test_5xx_is_retried_with_backoff_then_reported() -> None:
    client, adapter, sleeps = make_client(lambda seen: _graph_error(503, "serviceUnavailable", "down"),
                                          max_attempts=4, backoff_base=0.5)
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/organization", read="organization")
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(adapter.seen) == 4
    assert info.value.status == 503 and info.value.code == "serviceUnavailable"
    assert "after 4 attempts" in info.value.reason()


def test_4xx_other_than_429_is_not_retried() -> None:
    client, adapter, sleeps = make_client(lambda seen: _graph_error(400, "BadRequest", "no"))
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/users")
    assert len(adapter.seen) == 1 and sleeps == []
    assert "400 BadRequest: no" in info.value.reason()


def test_connection_errors_are_retried_and_name_the_host() -> None:
    calls = {"n": 0}

    def handler(seen: Seen):
        calls["n"] += 1
        return requests.ConnectionError("Connection refused") if calls["n"] < 3 else _ok({"ok": 1})

    client, _, sleeps = make_client(handler)
    assert client.get_json("graph", "/me") == {"ok": 1}
    assert sleeps == [0.5, 1.0]

    client, adapter, _ = make_client(lambda seen: requests.ConnectionError("Connection refused"), max_attempts=2)
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/me", read="me")
    error = info.value
    assert error.kind == "network" and len(adapter.seen) == 2
    assert "graph.unit.test" in error.title and "refused" in error.reason()
    _assert_no_token(error)


def test_timeouts_are_retried_and_explained() -> None:
    client, adapter, _ = make_client(lambda seen: requests.ReadTimeout("slow"), max_attempts=2)
    with pytest.raises(GraphError) as info:
        client.get_json("mde", "/machines", read="machines")
    assert "no answer within the read timeout" in info.value.reason()
    assert "mde.unit.test" in info.value.reason()


def test_tls_failures_are_not_retried() -> None:
    client, adapter, sleeps = make_client(lambda seen: requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/me")
    assert len(adapter.seen) == 1 and sleeps == []
    assert "--ca-bundle" in info.value.reason()


def test_malformed_json_says_so() -> None:
    client, _, _ = make_client(lambda seen: (200, {"Content-Type": "application/json"}, "{not json"))
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/organization", read="organization")
    assert info.value.kind == "malformed"
    assert "not valid JSON" in info.value.reason()


def test_403_names_the_permission_and_roles() -> None:
    client, _, _ = make_client(lambda seen: _graph_error(403, "Authorization_RequestDenied",
                                                         "Insufficient privileges to complete the operation."))
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/policies/crossTenantAccessPolicy/partners", read="partners")
    error = info.value
    assert error.status == 403 and error.code == "Authorization_RequestDenied"
    assert error.permission == "Policy.Read.All"
    assert "Policy.Read.All" in error.reason() and "Security Reader" in error.reason()
    assert error.title == "Permission denied"
    _assert_no_token(error)


def test_401_asks_to_sign_in_again() -> None:
    client, _, _ = make_client(lambda seen: _graph_error(401, "InvalidAuthenticationToken", "expired"))
    with pytest.raises(GraphError) as info:
        client.get_json("graph", "/me")
    assert "Sign in again" in info.value.reason()


def _pager(pages: dict[str, dict]):
    def handler(seen: Seen):
        key = seen.url.split("unit.test", 1)[1]
        return _ok(pages[key])
    return handler


def test_paging_follows_the_whole_next_link_and_resends_headers() -> None:
    pages = {
        "/v1.0/users?$filter=x": {"value": [{"id": 1}], "@odata.nextLink": "https://graph.unit.test/v1.0/users?$skiptoken=A"},
        "/v1.0/users?$skiptoken=A": {"value": [], "@odata.nextLink": "https://graph.unit.test/v1.0/users?$skiptoken=B"},
        "/v1.0/users?$skiptoken=B": {"value": [{"id": 2}, {"id": 3}]},
    }
    client, adapter, _ = make_client(_pager(pages))
    items = client.get_all("graph", "/users", params={"$filter": "x"}, headers={"ConsistencyLevel": "eventual"})
    assert [i["id"] for i in items] == [1, 2, 3]
    assert len(adapter.seen) == 3
    assert all(s.headers.get("ConsistencyLevel") == "eventual" for s in adapter.seen)


def test_paging_refuses_a_next_link_to_another_host() -> None:
    pages = {"/v1.0/users": {"value": [{"id": 1}], "@odata.nextLink": "https://evil.example/v1.0/users?page=2"}}
    client, adapter, _ = make_client(_pager(pages))
    with pytest.raises(GraphError) as info:
        client.get_all("graph", "/users")
    assert "evil.example" in info.value.reason() and len(adapter.seen) == 1


def test_paging_stops_on_a_repeating_link_and_on_a_missing_value() -> None:
    pages = {"/v1.0/users": {"value": [], "@odata.nextLink": "https://graph.unit.test/v1.0/users"}}
    client, _, _ = make_client(_pager(pages))
    with pytest.raises(GraphError, match="repeats"):
        client.get_all("graph", "/users")
    client, _, _ = make_client(lambda seen: _ok({"items": []}))
    with pytest.raises(GraphError, match="'value'"):
        client.get_all("graph", "/users")


def test_pages_are_yielded_one_at_a_time() -> None:
    pages = {"/api/machines": {"value": [{"id": 1}], "@odata.nextLink": "https://mde.unit.test/api/machines?$skip=1"},
             "/api/machines?$skip=1": {"value": [{"id": 2}]}}
    client, adapter, _ = make_client(_pager(pages))
    iterator = client.iter_pages("mde", "/machines")
    assert next(iterator) == [{"id": 1}] and len(adapter.seen) == 1
    assert next(iterator) == [{"id": 2}] and len(adapter.seen) == 2


def test_pages_read_are_counted_per_read_as_they_arrive_and_shared_by_derived_clients() -> None:
    pages = {"/api/machines": {"value": [{"id": 1}], "@odata.nextLink": "https://mde.unit.test/api/machines?$skip=1"},
             "/api/machines?$skip=1": {"value": [{"id": 2}]}}
    client, _, _ = make_client(_pager(pages))
    derived = client.derive()
    iterator = derived.iter_pages("mde", "/machines", read="machines")
    assert client.pages_read() == {}
    next(iterator)
    assert client.pages_read() == {"machines": 1}
    next(iterator)
    assert client.pages_read() == {"machines": 2} == derived.pages_read()
    list(client.iter_pages("mde", "/machines"))  # a read without a name is not counted
    assert client.pages_read() == {"machines": 2}


def test_count_uses_consistency_level_and_text_plain() -> None:
    client, adapter, _ = make_client(lambda seen: (200, {"Content-Type": "text/plain"}, "\ufeff893"))
    assert client.count("/users", filter="userType eq 'Member'", read="user_count") == 893
    seen = adapter.seen[0]
    assert seen.path == "/v1.0/users/$count"
    assert seen.query == {"$filter": ["userType eq 'Member'"]}
    assert seen.headers["ConsistencyLevel"] == "eventual"
    assert seen.headers["Accept"] == "text/plain"


def test_count_rejects_a_body_that_is_not_a_number() -> None:
    client, _, _ = make_client(lambda seen: (200, {}, "<html>login</html>"))
    with pytest.raises(GraphError) as info:
        client.count("/users")
    assert info.value.kind == "malformed" and "not a count" in info.value.reason()


def _batch_handler(log: list[list[str]], inner):
    def handler(seen: Seen):
        assert seen.method == "POST" and seen.path == "/v1.0/$batch"
        ids = [r["id"] for r in seen.body["requests"]]
        log.append(ids)
        responses = [inner(r, len(log)) for r in seen.body["requests"]]
        return _ok({"responses": list(reversed(responses))})  # out of order on purpose
    return handler


def test_batch_splits_at_20_and_maps_out_of_order_answers_by_id() -> None:
    log: list[list[str]] = []
    client, adapter, _ = make_client(_batch_handler(log, lambda r, n: {
        "id": r["id"], "status": 200, "headers": {}, "body": {"url": r["url"]}}))
    items = [BatchRequest(id=str(i), url=f"/things/{i}") for i in range(45)]
    answers = client.batch(items)
    assert [len(ids) for ids in log] == [20, 20, 5]
    assert all(answers[str(i)].body == {"url": f"/things/{i}"} for i in range(45))
    assert all(answers[str(i)].ok for i in range(45))


def test_batch_retries_only_the_throttled_inner_requests_after_retry_after() -> None:
    log: list[list[str]] = []

    def inner(request, attempt):
        if request["id"] in ("b", "c") and attempt == 1:
            wait = "4" if request["id"] == "b" else "9"
            return {"id": request["id"], "status": 429, "headers": {"Retry-After": wait},
                    "body": {"error": {"code": "TooManyRequests", "message": "x"}}}
        return {"id": request["id"], "status": 200, "headers": {}, "body": {"n": attempt}}

    client, _, sleeps = make_client(_batch_handler(log, inner))
    answers = client.batch([BatchRequest("a", "/a"), BatchRequest("b", "/b"), BatchRequest("c", "/c",
                                                                                     {"ConsistencyLevel": "eventual"})])
    assert log == [["a", "b", "c"], ["b", "c"]]
    assert sleeps == [9.0]
    assert {k: v.body["n"] for k, v in answers.items()} == {"a": 1, "b": 2, "c": 2}


def test_batch_sends_inner_headers_and_reports_inner_failures() -> None:
    bodies: list[dict] = []

    def handler(seen: Seen):
        bodies.append(seen.body)
        return _ok({"responses": [{"id": "x", "status": 403, "headers": {},
                                   "body": {"error": {"code": "Authorization_RequestDenied", "message": "no"}}}]})

    client, _, _ = make_client(handler)
    answers = client.batch([BatchRequest("x", "/users/$count", {"ConsistencyLevel": "eventual"})])
    assert bodies[0]["requests"][0]["headers"] == {"ConsistencyLevel": "eventual"}
    assert not answers["x"].ok
    error = client.batch_error(answers["x"], "/users/$count", read="user_count")
    assert error.status == 403 and "User.ReadBasic.All" in error.reason()


def test_batch_gives_up_on_persistent_inner_throttling() -> None:
    log: list[list[str]] = []
    client, _, sleeps = make_client(_batch_handler(log, lambda r, n: {
        "id": r["id"], "status": 429, "headers": {"Retry-After": "1"}, "body": None}), max_attempts=3)
    answers = client.batch([BatchRequest("a", "/a")])
    assert answers["a"].status == 429 and len(log) == 3 and sleeps == [1.0, 1.0]
    assert client.batch_error(answers["a"], "/a").kind == "throttled"


def test_batch_missing_answer_is_malformed() -> None:
    client, _, _ = make_client(lambda seen: _ok({"responses": []}))
    with pytest.raises(GraphError, match="did not answer"):
        client.batch([BatchRequest("a", "/a")])


def test_batch_outer_429_is_retried_by_send() -> None:
    replies = iter([_graph_error(429, "TooManyRequests", "x", {"Retry-After": "2"}),
                    _ok({"responses": [{"id": "a", "status": 200, "body": {}}]})])
    client, _, sleeps = make_client(lambda seen: next(replies))
    assert client.batch([BatchRequest("a", "/a")])["a"].ok
    assert sleeps == [2.0]


def test_cancellation_stops_before_the_next_request() -> None:
    cancelled = threading.Event()
    client, adapter, _ = make_client(lambda seen: _ok({}), is_cancelled=cancelled.is_set)
    cancelled.set()
    with pytest.raises(Interrupted):
        client.get_json("graph", "/me")
    assert adapter.seen == []


def test_default_sleep_wakes_up_on_cancellation() -> None:
    cancelled = threading.Event()
    client, _, _ = make_client(lambda seen: _graph_error(503, "x", "y", {"Retry-After": "30"}),
                               is_cancelled=cancelled.is_set, sleep=None)
    threading.Timer(0.2, cancelled.set).start()
    start = time.monotonic()
    with pytest.raises(Interrupted):
        client.get_json("graph", "/me")
    assert time.monotonic() - start < 1.5


def test_no_mde_api_in_this_cloud_is_a_clear_error() -> None:
    client = GraphClient(HttpSession(), Endpoints("https://l.test", "https://g.test", ""), graph_token=lambda: "t")
    with pytest.raises(GraphError, match="no Defender for Endpoint API"):
        client.get_json("mde", "/machines")


def test_errors_never_carry_the_token() -> None:
    for reply in (_graph_error(403, "Authorization_RequestDenied", "no"), (500, {}, "oops"),
                  requests.ConnectionError(f"Bearer {TOKEN}")):
        client, _, _ = make_client(lambda seen, r=reply: r, max_attempts=1)
        with pytest.raises(GraphError) as info:
            client.get_json("graph", "/me", read="me")
        _assert_no_token(info.value)



def test_401_fetches_a_fresh_token_once_and_retries() -> None:
    calls: list[bool] = []

    def token(*, force_refresh: bool = False) -> str:
        calls.append(force_refresh)
        return "fresh" if force_refresh else "stale"

    client, adapter, sleeps = make_client(
        lambda seen: _ok({"ok": 1}) if seen.headers["Authorization"] == "Bearer fresh"
        else _graph_error(401, "InvalidAuthenticationToken", "expired"))
    client._tokens["graph"] = token
    assert client.get_json("graph", "/me") == {"ok": 1}
    assert calls == [False, True] and sleeps == []

    client, adapter, _ = make_client(lambda seen: _graph_error(401, "InvalidAuthenticationToken", "revoked"))
    client._tokens["graph"] = token
    with pytest.raises(GraphError, match="did not accept the token"):
        client.get_json("graph", "/me")
    assert len(adapter.seen) == 2
