"""Counting devices without paging them: advanced hunting counts the onboarded devices and their sensor
health in one request, ``deviceavinfo`` filtered on ``avMode ne '0'`` lists only the devices not in
active mode; paging the Defender for Endpoint API is the fallback (hunting refused or not offered),
with several pages in flight within the documented rate limits. Both ways give the same counts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from graph_fakes import Seen, make_client
from test_facts import CLOUD, tenant

from dex_tui import mde_paging
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.engine import client_for
from dex_tui.facts import MDE_PAGE_SIZE, NOT_ACTIVE, ONBOARDED_BY_HEALTH, gather
from dex_tui.headless_signin import headless_sign_in
from dex_tui.runtime import Runtime
from dex_tui.settings import Endpoints, resolve_settings

HUNTING_REFUSED = {"endpoint": "graph.huntingQuery", "kind": "status", "status": 403, "count": 0}
ENDPOINTS = {"/v1.0/security/runhuntingquery": "graph.huntingQuery", "/api/machines": "mde.machines",
             "/api/deviceavinfo": "mde.deviceavinfo"}


@dataclass(frozen=True)
class Call:
    endpoint: str  # graph.huntingQuery, mde.machines, mde.deviceavinfo, or the path
    url: str
    status: int


class LoggingCloud(FakeCloud):
    """The fake cloud, keeping every request's URL and answer status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[Call] = []

    def handle(self, method: str, url: str, headers: Any = None, body: bytes | str | None = None) -> Any:
        reply = super().handle(method, url, headers, body)
        path = unquote(urlsplit(url).path).lower()
        endpoint = next((name for suffix, name in ENDPOINTS.items() if path.endswith(suffix)), path)
        self.log.append(Call(endpoint, unquote(url), reply.status))
        return reply


def _facts(scenario: Any, *, names: tuple[str, ...] | None = ("machines", "av_info")) -> tuple[Any, LoggingCloud]:
    cloud = LoggingCloud(scenario)
    runtime = Runtime(resolve_settings({"demo": scenario.name}, env={}), fake_cloud=cloud)
    headless_sign_in(runtime)
    cloud.log.clear()
    facts = gather(client_for(runtime, sleep=lambda seconds: None), CLOUD, names=names)
    runtime.close()
    return facts, cloud


def _counts(facts: Any) -> tuple[Any, ...]:
    machines, av = facts.value("machines"), facts.value("av_info")
    return machines.onboarded, dict(machines.by_health), machines.no_recent_machines and 0, av.total, dict(av.by_mode)


@pytest.mark.parametrize("name", ["ready", "large", "passive-av", "no-devices"])
def test_hunting_and_paging_give_the_same_counts(name: str) -> None:
    scenario = load_scenario(name)
    hunted, cloud = _facts(scenario)
    paged, paged_cloud = _facts(scenario.with_faults(HUNTING_REFUSED))
    assert hunted.value("machines").source == "hunting" and hunted.value("av_info").source == "hunting"
    assert paged.value("machines").source == "machines" and "403" in paged.value("machines").hunting_problem
    assert paged.value("av_info").source == "deviceavinfo"
    assert _counts(hunted) == _counts(paged)
    expected = sum(g.count for g in scenario.devices if g.onboarding == "Onboarded")
    assert hunted.value("machines").onboarded == expected == hunted.value("av_info").total
    hunts = [e for e in cloud.log if e.endpoint == "graph.huntingQuery"]
    assert len(hunts) == 2 and all(e.status == 200 for e in hunts)
    # Only the devices not in active mode are listed: no page of the machines API at all.
    assert not [e for e in cloud.log if e.endpoint == "mde.machines"]
    assert all(NOT_ACTIVE in e.url for e in cloud.log if e.endpoint == "mde.deviceavinfo")
    assert [e for e in paged_cloud.log if e.endpoint == "mde.machines"]


@pytest.mark.parametrize("devices", [10_000, 100_000, 1_000_000])
def test_a_whole_check_costs_the_same_requests_at_any_size(devices: int) -> None:
    facts, cloud = _facts(load_scenario("large").with_devices(devices), names=None)
    assert facts.reads and all(r.ok for r in facts.reads.values())
    assert facts.reads["machines"].requests == 1
    not_active = sum(g.count for g in load_scenario("large").with_devices(devices).devices
                     if g.onboarding == "Onboarded" and g.av_mode != "0")
    assert facts.reads["av_info"].requests == 1 + -(-not_active // MDE_PAGE_SIZE)
    assert len(cloud.log) <= 20, [e.endpoint for e in cloud.log]


def _hunting(reply: Any, seen_bodies: list[Any] | None = None):
    def handler(seen: Seen):
        if seen_bodies is not None:
            seen_bodies.append(seen.body)
        return reply if isinstance(reply, tuple) else (200, {}, reply)
    return handler


ROWS = {"schema": [{"Name": "SensorHealthState", "Type": "String"}, {"Name": "Devices", "Type": "Int64"}],
        "Results": [{"SensorHealthState": "Active", "Devices": 20_000},
                    {"sensorhealthstate": "Impaired communication", "devices": 3},
                    {"SensorHealthState": "Inactive", "Devices": 4_997}]}


def test_the_hunting_query_and_its_answer_are_read_as_documented() -> None:
    bodies: list[Any] = []
    client, adapter, _ = make_client(tenant({"/v1.0/security/runHuntingQuery": _hunting(ROWS, bodies)}))
    facts = gather(client, CLOUD, names=["machines", "av_info"])
    machines, av = facts.value("machines"), facts.value("av_info")
    assert bodies[0] == {"Query": ONBOARDED_BY_HEALTH, "Timespan": "P30D"}
    assert dict(machines.by_health) == {"Active": 20_000, "ImpairedCommunication": 3, "Inactive": 4_997}
    assert machines.onboarded == 25_000 and facts.reads["machines"].requests == 1
    # test_facts' tenant: 25,000 devices cycling through avMode 0, 1, 0, 4; only modes 1 and 4 are listed.
    assert dict(av.by_mode) == {"passive": 6_250, "edr_blocked": 6_250, "active": 12_500} and av.total == 25_000
    listed = [s for s in adapter.seen if s.path == "/api/deviceavinfo"]
    assert listed and all(s.query["$filter"] == [NOT_ACTIVE] for s in listed)


@pytest.mark.parametrize("reply", [
    pytest.param({"schema": [], "results": {"Devices": 3}}, id="results-not-a-list"),
    pytest.param({"schema": []}, id="no-results"),
    pytest.param({"results": [{"SensorHealthState": "Active", "Devices": "3"}]}, id="count-as-text"),
    pytest.param({"results": [{"SensorHealthState": "Active", "Devices": True}]}, id="count-as-boolean"),
    pytest.param({"results": [{"SensorHealthState": 7, "Devices": 3}]}, id="state-not-text"),
    pytest.param({"results": ["Active"]}, id="row-not-an-object"),
    pytest.param((200, {}, "not json"), id="not-json"),
])
def test_a_hunting_answer_that_does_not_parse_is_unknown_never_a_count(reply: Any) -> None:
    if isinstance(reply, tuple):
        reply = (200, {"Content-Type": "application/json"}, reply[2])
    client, adapter, _ = make_client(tenant({"/v1.0/security/runHuntingQuery": _hunting(reply)}))
    facts = gather(client, CLOUD, names=["machines", "av_info"])
    for name in ("machines", "av_info"):
        result = facts.reads[name]
        assert not result.ok and result.kind == "malformed", result
    # No fallback hides a broken answer: no unfiltered page (the not-active list runs beside the query).
    assert not [s for s in adapter.seen if s.path.startswith("/api/") and "$filter" not in s.query]
    assert not [s for s in adapter.seen if s.path == "/api/machines"]


def test_more_devices_not_active_than_onboarded_is_unknown() -> None:
    few = {"results": [{"SensorHealthState": "Active", "Devices": 10}]}
    client, _, _ = make_client(tenant({"/v1.0/security/runHuntingQuery": _hunting(few)}))
    result = gather(client, CLOUD, names=["av_info"]).reads["av_info"]
    assert not result.ok and result.kind == "malformed" and "more than the 10 onboarded" in result.error


@pytest.mark.parametrize("status", [400, 403, 404, 501])
def test_hunting_refused_or_missing_falls_back_to_paging(status: int) -> None:
    refused = (status, {}, {"error": {"code": "Forbidden", "message": "no"}})
    client, adapter, _ = make_client(tenant({"/v1.0/security/runHuntingQuery": _hunting(refused)}))
    facts = gather(client, CLOUD, names=["machines"])
    machines = facts.value("machines")
    assert machines.source == "machines" and str(status) in machines.hunting_problem
    assert machines.onboarded == 25_000 and dict(machines.by_health) == {"Active": 20_000, "Inactive": 5_000}


def test_china_sends_no_hunting_query() -> None:
    client, adapter, _ = make_client(tenant())
    client.endpoints = Endpoints("https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn",
                                 client.endpoints.mde_url)
    gather(client, CLOUD, names=["machines", "av_info"])
    assert not [s for s in adapter.seen if "runHuntingQuery" in s.path]


def test_paging_keeps_pages_in_flight_and_counts_every_request_for_its_read() -> None:
    client, adapter, _ = make_client(tenant({"/v1.0/security/runHuntingQuery": _hunting((403, {}, {}))},
                                            devices=95_000))
    facts = gather(client, CLOUD, names=["machines"])
    pages = [s for s in adapter.seen if s.path == "/api/machines"]
    needed = -(-95_000 // MDE_PAGE_SIZE)
    assert needed <= len(pages) <= needed + mde_paging.WINDOW - 1
    skips = sorted(int(s.query.get("$skip", ["0"])[0]) for s in pages)
    assert skips == [n * MDE_PAGE_SIZE for n in range(len(pages))]
    assert facts.value("machines").onboarded == 95_000
    assert facts.reads["machines"].requests == len(pages) + 1  # and the refused hunting query
    assert facts.requests == client.requests_made == len(adapter.seen)


def test_the_rate_limit_spaces_requests_as_documented() -> None:
    now = [0.0]
    limit = mde_paging.RateLimit(mde_paging.Limits(per_minute=3, per_hour=5), clock=lambda: now[0])
    assert [limit.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.acquire() == 60.0  # the fourth in a minute waits for the first to leave the window
    now[0] = 61.0
    assert limit.acquire() == 0.0  # the fifth in the hour
    assert limit.acquire() == 3600.0 - 61.0  # the sixth waits for the hour
    assert mde_paging.LIMITS["/machines"] == mde_paging.Limits(100, 1_500)
    assert mde_paging.LIMITS["/deviceavinfo"] == mde_paging.Limits(30, 1_000)


def test_the_fake_refuses_a_query_outside_its_subset_and_a_bad_timespan() -> None:
    scenario = load_scenario("ready")
    cloud = FakeCloud(scenario)
    runtime = Runtime(resolve_settings({"demo": "ready"}, env={}), fake_cloud=cloud)
    headless_sign_in(runtime)
    client = client_for(runtime, sleep=lambda seconds: None)
    for body in ({"Query": "DeviceProcessEvents | take 1"}, {"Query": ONBOARDED_BY_HEALTH, "Timespan": "forever"},
                 {"Query": "DeviceInfo | where OnboardingStatus matches regex 'x'"}):
        with pytest.raises(Exception) as raised:
            client.post_json("graph", "/security/runHuntingQuery", body, read="machines")
        assert getattr(raised.value, "status", None) == 400, json.dumps(body)
    runtime.close()


def test_the_second_page_is_on_its_way_while_the_first_is_parsed() -> None:
    """The first answer names a next link, so page two is asked for before page one is read to its end."""
    import time

    client, adapter, _ = make_client(tenant({}, devices=25_000))
    pages = mde_paging.page_items(client, "/machines", params={}, read="machines", page_size=MDE_PAGE_SIZE)
    first = next(pages)
    next(first)  # one device of page one read, nine thousand nine hundred and ninety-nine to go

    def second_page_asked() -> bool:
        return any(s.path == "/api/machines" and s.query.get("$skip") == [str(MDE_PAGE_SIZE)] for s in adapter.seen)

    deadline = time.monotonic() + 10
    while not second_page_asked() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert second_page_asked()
    total = 1 + sum(1 for _ in first) + sum(sum(1 for _ in page) for page in pages)
    assert total == 25_000
    assert 3 <= len([s for s in adapter.seen if s.path == "/api/machines"]) <= 3 + mde_paging.WINDOW - 1


@pytest.mark.parametrize(("devices", "requests"), [(9_000, 1), (15_000, 2)])
def test_one_or_two_pages_cost_no_request_past_the_end(devices: int, requests: int) -> None:
    client, adapter, _ = make_client(tenant({}, devices=devices))
    pages = mde_paging.page_items(client, "/machines", params={}, read="machines", page_size=MDE_PAGE_SIZE)
    assert sum(sum(1 for _ in page) for page in pages) == devices
    assert len([s for s in adapter.seen if s.path == "/api/machines"]) == requests
