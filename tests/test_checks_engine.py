"""The engine against the fake cloud: streaming results, partial failures, throttling, re-evaluation,
refresh and watch, cancellation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dex_tui.answers import Answers, Confirmation
from dex_tui.catalogue import CHECK_IDS
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.engine import Checker, client_for, cloud_of, run_checks
from dex_tui.errors import Interrupted
from dex_tui.flow import get_step
from dex_tui.headless_signin import headless_sign_in
from dex_tui.results import Status
from dex_tui.runtime import Runtime
from dex_tui.settings import resolve_settings

LICENCE_CHECKS = get_step("license").watches  # the checks each wizard step watches
ACCESS_CHECKS = get_step("access").watches
WHO = Confirmation("admin@contoso.onmicrosoft.com", "2025-06-02T09:10:00Z")
CONFIRMED = Answers(confirmations={"terms": WHO, "license": WHO}, roles={"security_operator": True, "security_administrator": True})


def signed_in(scenario: str, *faults: dict[str, Any], latency_ms: int = 0) -> tuple[Runtime, FakeCloud]:
    loaded = load_scenario(scenario)
    if faults:
        loaded = loaded.with_faults(*faults)
    if latency_ms:
        loaded = loaded.with_knobs(latency_ms=latency_ms)
    cloud = FakeCloud(loaded)
    runtime = Runtime(resolve_settings({"demo": scenario}, env={}), fake_cloud=cloud)
    headless_sign_in(runtime)
    return runtime, cloud


def checker(runtime: Runtime, sleeps: list[float] | None = None) -> Checker:
    recorder = sleeps.append if sleeps is not None else (lambda seconds: None)
    return Checker(client_for(runtime, sleep=recorder), cloud_of(runtime))


def statuses(results) -> dict[str, Status]:
    return {r.id: r.status for r in results}


def test_ready_streams_every_check_once_and_returns_them_in_order() -> None:
    runtime, _ = signed_in("ready")
    arrived: list[str] = []
    threads: set[str] = set()
    lock = threading.Lock()

    def on_result(result) -> None:
        with lock:
            arrived.append(result.id)
            threads.add(threading.current_thread().name)

    results = checker(runtime).run(CONFIRMED, on_result=on_result)
    assert [r.id for r in results] == list(CHECK_IDS)
    assert sorted(arrived) == sorted(CHECK_IDS)
    assert any(name.startswith("dex-read") for name in threads), "results arrive from the read threads"
    assert {s for i, s in statuses(results).items() if i not in ("coverage.iot", "experts.credits",
                                                                  "data.residency")} == {Status.PASS}


def test_checks_that_need_no_read_arrive_before_the_reads_finish() -> None:
    runtime, _ = signed_in("ready", latency_ms=100)
    order: list[str] = []
    start = time.monotonic()
    times: dict[str, float] = {}

    def on_result(result) -> None:
        order.append(result.id)
        times[result.id] = time.monotonic() - start

    checker(runtime).run(CONFIRMED, on_result=on_result)
    assert set(order[:4]) == {"cloud.availability", "experts.terms", "experts.roles", "experts.credits"}
    assert times["experts.credits"] < times["license.mde_p2"] and times["license.mde_p2"] >= 0.1


def test_wall_time_is_close_to_the_critical_path() -> None:
    runtime, cloud = signed_in("ready", latency_ms=100)
    start = time.monotonic()
    checker(runtime).run(CONFIRMED)
    elapsed = time.monotonic() - start
    # Longest chain: MDE token then the device read, or partners then the $batch: 2 x 100 ms. One
    # after another the 11 requests would take 1.1 s; the margin absorbs a loaded machine.
    assert elapsed < 0.6, elapsed


def test_a_403_on_partners_leaves_only_the_dependent_check_unknown_naming_the_scope() -> None:
    runtime, _ = signed_in("ready", {"endpoint": "graph.partners", "kind": "status", "status": 403, "count": 0})
    results = {r.id: r for r in checker(runtime).run(CONFIRMED)}
    unknown = [i for i, r in results.items() if r.status is Status.UNKNOWN]
    assert unknown == ["access.service_provider"]
    evidence = results["access.service_provider"].evidence
    assert evidence["missing_permission"] == "Policy.Read.All" and evidence["status"] == 403
    assert "Policy.Read.All" in results["access.service_provider"].summary
    assert results["access.conditional_access"].status is Status.PASS


def test_throttling_is_retried_honouring_retry_after_also_inside_batch() -> None:
    runtime, cloud = signed_in("throttled", {"endpoint": "graph.tenantInformation", "kind": "throttle",
                                             "count": 1, "retry_after": 3})
    sleeps: list[float] = []
    results = checker(runtime, sleeps).run(CONFIRMED)
    assert statuses(results)["access.service_provider"] is Status.PASS
    assert all(r.status is not Status.UNKNOWN for r in results)
    assert 3.0 in sleeps and 2.0 in sleeps and 1.0 in sleeps
    batches = [entry for entry in cloud.request_log if entry[2].endswith("$batch")]
    assert len(batches) == 2


def test_network_failure_on_mde_names_the_host_and_leaves_graph_checks_alone() -> None:
    runtime, _ = signed_in("ready", {"endpoint": "mde.*", "kind": "reset", "count": 0},
                           {"endpoint": "graph.huntingQuery", "kind": "status", "status": 403, "count": 0})
    results = {r.id: r for r in checker(runtime).run(CONFIRMED)}
    assert {i for i, r in results.items() if r.status is Status.UNKNOWN} == {"devices.onboarded", "devices.av_mode"}
    assert "mde.demo.test" in results["devices.onboarded"].summary


def test_reevaluate_uses_the_facts_without_the_network() -> None:
    runtime, cloud = signed_in("ready")
    engine = checker(runtime)
    engine.run(Answers())
    before = len(cloud.request_log)
    skip = Answers(roles={"security_operator": False, "security_administrator": True})
    (roles,) = engine.reevaluate(skip, ids=["experts.roles"])
    assert roles.status is Status.WARN and "Isolate a device" in roles.summary
    assert statuses(engine.reevaluate(CONFIRMED))["experts.terms"] is Status.PASS
    assert len(cloud.request_log) == before


def test_refresh_rereads_only_what_the_access_checks_need() -> None:
    runtime, cloud = signed_in("fresh")
    engine = checker(runtime)
    assert statuses(engine.run(CONFIRMED))["access.service_provider"] is Status.FAIL
    cloud.portal.give_access()
    before = len(cloud.request_log)
    results = engine.refresh(ACCESS_CHECKS, CONFIRMED)
    assert [r.id for r in results] == list(ACCESS_CHECKS)
    assert all(r.status is Status.PASS for r in results)
    paths = {entry[2] for entry in cloud.request_log[before:]}
    assert paths == {"/v1.0/policies/crossTenantAccessPolicy/partners", "/v1.0/$batch",
                     "/v1.0/identity/conditionalAccess/policies"}
    assert statuses(engine.reevaluate(CONFIRMED))["access.service_provider"] is Status.PASS


def test_watch_polls_with_growing_pauses_until_the_licence_appears() -> None:
    runtime, cloud = signed_in("fresh")
    engine = checker(runtime)
    pauses: list[float] = []
    rounds: list[list] = []

    def on_round(results) -> None:
        rounds.append(results)
        if len(rounds) == 2:
            cloud.portal.place_licence_order("xdr")

    def has_hint(results) -> bool:
        licence = next(r for r in results if r.id == "experts.license")
        return bool(licence.evidence.get("hint_subscriptions"))

    answers = {"now": Answers()}
    results = engine.watch(LICENCE_CHECKS, lambda: answers["now"], until=has_hint, on_round=on_round,
                           intervals=(1, 2, 4), sleep=pauses.append)
    assert len(rounds) == 3 and pauses == [1, 2]
    assert has_hint(results)


def test_watch_is_cancellable() -> None:
    runtime, _ = signed_in("fresh")
    cancelled = threading.Event()
    threading.Timer(0.2, cancelled.set).start()
    start = time.monotonic()
    with pytest.raises(Interrupted):
        checker(runtime).watch(ACCESS_CHECKS, Answers(), is_cancelled=cancelled.is_set, intervals=(30,))
    assert time.monotonic() - start < 1.0


def test_run_checks_accepts_a_runtime_or_a_client() -> None:
    runtime, _ = signed_in("ready")
    assert len(run_checks(runtime, CONFIRMED)) == len(CHECK_IDS)
    with pytest.raises(ValueError):
        run_checks(client_for(runtime), CONFIRMED)
    assert len(run_checks(client_for(runtime), CONFIRMED, cloud=cloud_of(runtime))) == len(CHECK_IDS)


def test_unknown_check_ids_are_refused() -> None:
    runtime, _ = signed_in("ready")
    with pytest.raises(ValueError, match="nope"):
        checker(runtime).refresh(["nope"], CONFIRMED)
