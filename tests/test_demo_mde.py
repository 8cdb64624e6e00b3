"""The fake Defender for Endpoint API: machines and antivirus info, filters, paging, audience, errors,
and the large scenario staying cheap."""

from __future__ import annotations

import time

import pytest

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo.testing import signed_in

M = "https://mde.demo.test/api"


def _client(name: str = "ready", scenario=None):
    cloud = FakeCloud(scenario or load_scenario(name))
    session, graph, mde = signed_in(cloud)

    def get(path: str, token: str | None = mde, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return session.get(path if path.startswith("https://") else M + path, headers=headers, **kwargs)

    return cloud, get, graph


def test_machines_shape_and_filters() -> None:
    _, get, _ = _client()
    body = get("/machines").json()
    assert body["@odata.context"].endswith("$metadata#Machines")
    machines = body["value"]
    assert len(machines) == 220 and "@odata.nextLink" not in body
    first = machines[0]
    for field in ("id", "computerDnsName", "firstSeen", "lastSeen", "osPlatform", "version", "osBuild",
                  "healthStatus", "onboardingStatus", "rbacGroupId", "rbacGroupName", "riskScore", "exposureLevel",
                  "aadDeviceId", "machineTags", "lastIpAddress", "lastExternalIpAddress", "ipAddresses"):
        assert field in first
    assert len(first["id"]) == 40
    onboarded = get("/machines", params={"$filter": "onboardingStatus eq 'Onboarded'"}).json()["value"]
    assert len(onboarded) == 212
    mac = get("/machines", params={"$filter": "onboardingStatus eq 'Onboarded' and osPlatform eq 'macOS'"}).json()
    assert len(mac["value"]) == 12 and {m["osPlatform"] for m in mac["value"]} == {"macOS"}
    either = get("/machines", params={"$filter": "osPlatform eq 'macOS' or osPlatform eq 'Windows10'"}).json()
    assert len(either["value"]) == 20
    by_name = get("/machines", params={"$filter": f"computerDnsName eq '{first['computerDnsName']}'"}).json()
    assert [m["id"] for m in by_name["value"]] == [first["id"]]
    lowercase = get("/machines", params={"$filter": "onboardingstatus eq 'onboarded'"}).json()["value"]
    assert len(lowercase) == 212


def test_machines_paging_with_top_and_skip() -> None:
    _, get, _ = _client()
    ids, url = [], "/machines?$top=100"
    while url:
        body = get(url).json()
        ids += [m["id"] for m in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{M}/machines?") and "$skip=" in url
    assert len(ids) == 220 == len(set(ids))


def test_deviceavinfo_av_modes() -> None:
    _, get, _ = _client("passive-av")
    first = get("/deviceavinfo").json()
    assert len(first["value"]) == 20 and "@odata.nextLink" in first  # default page size 20
    row = first["value"][0]
    for field in ("machineId", "computerDnsName", "osKind", "osPlatform", "osVersion", "avMode",
                  "avIsSignatureUpToDate", "avIsEngineUpToDate", "avIsPlatformUpToDate", "rbacGroupName"):
        assert field in row
    assert isinstance(row["avMode"], str)
    counts = {}
    for mode in ("0", "1"):
        counts[mode] = len(get("/deviceavinfo", params={"$filter": f"avMode eq '{mode}'", "$top": "10000"})
                           .json()["value"])
    assert counts == {"0": 164, "1": 48}
    assert get("/deviceavinfo", params={"$filter": "id eq 'x'"}).status_code == 400  # id is not filterable


def test_mde_auth_and_errors() -> None:
    _, get, graph = _client()
    missing = get("/machines", token=None)
    assert missing.status_code == 401 and set(missing.json()["error"]) == {"code", "message", "target"}
    wrong_audience = get("/machines", token=graph)
    assert wrong_audience.status_code == 401
    assert get("/machines", params={"$top": "10001"}).status_code == 400
    assert get("/machines", params={"$filter": "avMode eq '1'"}).status_code == 400
    assert get("/machines", params={"$filter": "osPlatform eq"}).json()["error"]["code"] == "InvalidRequestBody"
    assert get("/nothing").status_code == 404


def test_mde_role_is_enforced() -> None:
    nobody = load_scenario("ready").merged({"operator": {"roles": [], "groups": []}})
    _, get, _ = _client(scenario=nobody)
    denied = get("/machines")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Forbidden"


def test_no_devices() -> None:
    _, get, _ = _client("no-devices")
    none = get("/machines")
    assert none.status_code == 404 and none.json()["error"]["code"] == "ResourceNotFound"
    assert get("/deviceavinfo").json()["value"] == []


@pytest.mark.parametrize("endpoint", ["/machines", "/deviceavinfo"])
def test_large_counts_and_filters_are_cheap(endpoint: str) -> None:
    _, get, _ = _client("large")
    started = time.perf_counter()
    page = get(endpoint, params={"$top": "1"}).json()
    passive = get("/deviceavinfo", params={"$filter": "avMode eq '1'", "$top": "1", "$skip": "1999"}).json()
    last = get(endpoint, params={"$top": "10000", "$skip": "90000"}).json()
    elapsed = time.perf_counter() - started
    assert len(page["value"]) == 1 and "$skip=1" in page["@odata.nextLink"]
    assert len(passive["value"]) == 1 and "@odata.nextLink" not in passive
    assert len(last["value"]) == (10000 if endpoint == "/machines" else 8000)
    assert elapsed < 2.0, elapsed


def test_large_counting_by_paging_with_top_1_walks_only_what_it_asks() -> None:
    cloud, get, _ = _client("large")
    before = len(cloud.request_log)
    onboarded = get("/machines", params={"$filter": "onboardingStatus eq 'Onboarded'", "$top": "10000"}).json()
    assert len(onboarded["value"]) == 10000
    assert "$skip=10000" in onboarded["@odata.nextLink"]
    assert len(cloud.request_log) - before == 1
