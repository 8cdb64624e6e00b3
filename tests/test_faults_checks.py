"""Fault injection into whole ``dex-tui check`` runs, through both transports (the in-process adapter
and loopback HTTPS): 403 on each endpoint; 5xx, 429 with and without Retry-After (also inside
``$batch``), timeouts, connection resets, malformed JSON and truncated pages, persistent and transient;
an access token that expires mid-run; a refresh token revoked mid-run.

Each run must finish; the checks that do not depend on the failed read keep their status; the
dependent ones are ``unknown`` with a reason naming the call and what went wrong; the exit code follows;
nothing prints a traceback or a secret. Waits are recorded, never slept (the Graph client gets a
recording ``sleep``), so the assertions also prove Retry-After and the backoff were honoured.
The table of covered faults is docs/faults.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dex_tui.demo import load_scenario
from dex_tui.scopes import REQUIREMENTS
from tests.test_secrets_support import (
    TRANSPORTS,
    CliRun,
    Transport,
    Transports,
    assert_no_secret,
    assert_no_traceback,
    fast_clients,
    record_clouds,
    run_cli,
)

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

# The "ready" tenant with every decision recorded: each check's status when nothing fails (exit 0).
BASELINE = {
    "cloud.availability": "pass", "operator.roles": "pass", "license.mde_p2": "pass", "license.entra_p1": "pass",
    "license.mdo_p2": "pass", "license.mdi": "pass", "license.mdca": "pass", "coverage.iot": "info",
    "devices.onboarded": "pass", "devices.av_mode": "pass", "experts.terms": "pass", "experts.license": "pass",
    "experts.roles": "pass", "access.service_provider": "pass", "access.conditional_access": "pass",
    "experts.credits": "info", "data.residency": "info",
}
BLOCKERS = {"cloud.availability", "license.mde_p2", "license.entra_p1", "devices.onboarded", "devices.av_mode",
            "access.service_provider", "access.conditional_access"}
SKUS = {"license.mde_p2", "license.entra_p1", "license.mdo_p2", "license.mdi", "license.mdca", "coverage.iot"}

# Fake endpoint -> (the read it serves, the path in the reason, the checks that depend on it).
ENDPOINTS: dict[str, tuple[str, str, set[str]]] = {
    "graph.organization": ("organization", "/v1.0/organization", {"data.residency"}),
    "graph.me": ("me", "/v1.0/me", set()),  # optional for operator.roles: nothing turns unknown
    "graph.transitiveMemberOf": ("member_of", "/v1.0/me/transitiveMemberOf", {"operator.roles"}),
    "graph.subscribedSkus": ("subscribed_skus", "/v1.0/subscribedSkus", SKUS),
    "graph.usersCount": ("user_count", "/v1.0/users/$count", {"license.entra_p1"}),
    "graph.partners": ("partners", "/v1.0/policies/crossTenantAccessPolicy/partners", {"access.service_provider"}),
    "graph.batch": ("tenant_information", "/v1.0/$batch", {"access.service_provider"}),
    "graph.tenantInformation": ("tenant_information", "findTenantInformationByTenantId",
                                {"access.service_provider"}),  # inside $batch
    "graph.caPolicies": ("ca_policies", "/v1.0/identity/conditionalAccess/policies", {"access.conditional_access"}),
    "mde.machines": ("machines", "/api/machines", {"devices.onboarded"}),
    "mde.deviceavinfo": ("av_info", "/api/deviceavinfo", {"devices.av_mode"}),
}
HUNTING_REFUSED = {"endpoint": "graph.huntingQuery", "kind": "status", "status": 403, "count": 0}
BACKOFF = [0.5, 1.0, 2.0, 4.0]  # the Graph client's waits before attempts 2..5 without Retry-After

# Fault kind -> (the fault table, what the reason must say, the waits the client must have made).
KINDS: dict[str, tuple[dict[str, Any], tuple[str, ...], list[float]]] = {
    "403": ({"kind": "status", "status": 403}, ("was refused (403",), []),
    "500": ({"kind": "status", "status": 500}, ("failed on the service side (500", "after 5 attempts"), BACKOFF),
    "502": ({"kind": "status", "status": 502}, ("failed on the service side (502", "after 5 attempts"), BACKOFF),
    "503": ({"kind": "status", "status": 503}, ("failed on the service side (503", "after 5 attempts"), BACKOFF),
    "504": ({"kind": "status", "status": 504}, ("failed on the service side (504", "after 5 attempts"), BACKOFF),
    "429-retry-after": ({"kind": "throttle", "retry_after": 3},
                        ("throttled (429) after 5 attempts", "asked to wait 3 s"), [3.0] * 4),
    "429-no-retry-after": ({"kind": "status", "status": 429}, ("throttled (429) after 5 attempts",), BACKOFF),
    "timeout": ({"kind": "timeout"}, ("no answer within the read timeout", "5 attempts"), BACKOFF),
    "reset": ({"kind": "reset"}, ("the connection was reset", "5 attempts"), BACKOFF),
    "malformed": ({"kind": "malformed"}, ("not valid JSON",), []),
    "truncated": ({"kind": "truncated"}, ("the connection broke while reading the answer", "5 attempts"), BACKOFF),
}
INNER_KINDS = ("403", "500", "503", "429-retry-after", "429-no-retry-after")  # what $batch can answer inside

# Through loopback HTTPS every kind runs once, on an endpoint of each sort (list, count, $batch, MDE); a
# timeout there (2.5 s of real waiting when persistent) is covered by the transient case.
LOOPBACK_CASES = [
    ("graph.organization", "500"), ("graph.subscribedSkus", "502"), ("graph.caPolicies", "503"),
    ("mde.machines", "504"), ("graph.usersCount", "429-retry-after"), ("graph.partners", "429-no-retry-after"),
    ("graph.transitiveMemberOf", "reset"), ("graph.batch", "malformed"),
    ("graph.subscribedSkus", "truncated"), ("graph.tenantInformation", "429-retry-after"),
    ("graph.tenantInformation", "500"),
]


EVERYWHERE = ("403", "500", "429-retry-after")  # on every endpoint: proves which checks depend on which read
SAMPLES = ("graph.subscribedSkus", "graph.usersCount", "graph.batch", "mde.deviceavinfo")  # list, count, $batch, MDE


def _in_process_cases() -> list[Any]:
    cases = []
    for endpoint in ENDPOINTS:
        kinds = INNER_KINDS if endpoint == "graph.tenantInformation" else KINDS
        for kind in kinds:
            if kind not in EVERYWHERE and endpoint not in SAMPLES and endpoint != "graph.tenantInformation":
                continue  # the other kinds share the client's code path: one endpoint of each sort
            cases.append(pytest.param("in-process", endpoint, kind, id=f"in-process-{endpoint}-{kind}"))
    return cases


def _cases() -> list[Any]:
    loopback_403 = [pytest.param("loopback", e, "403", id=f"loopback-{e}-403") for e in ENDPOINTS]
    loopback = [pytest.param("loopback", e, k, id=f"loopback-{e}-{k}") for e, k in LOOPBACK_CASES]
    return _in_process_cases() + loopback_403 + loopback


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text(ANSWERS, encoding="utf-8")
    return path


@pytest.fixture
def transports(monkeypatch, state_dir) -> Iterator[dict[str, Transports]]:
    made = {kind: Transports(kind, monkeypatch, state_dir) for kind in TRANSPORTS}
    yield made
    for transports_of_kind in made.values():
        transports_of_kind.close()


@pytest.fixture(params=TRANSPORTS)
def make_transport(request, transports) -> Transports:
    """``make_transport(scenario)``: the fake cloud behind this test's transport (both are run)."""
    return transports[request.param]


def check(target: Transport, answers: Path, capsys, *extra: str) -> tuple[CliRun, dict[str, Any]]:
    result = run_cli([*target.args, "check", "--answers", str(answers), "--format", "json", *extra], capsys)
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([target.cloud], result.sources())
    return result, json.loads(result.out)


def statuses_of(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def expected_exit(affected: set[str], report: dict[str, Any]) -> int:
    """3 when a blocker could not be evaluated, 1 for a recommended one; info checks never count."""
    severity = {c["id"]: c["severity"] for c in report["checks"]}
    assert {i for i, s in severity.items() if s == "blocker"} == BLOCKERS
    if affected & BLOCKERS:
        return 3
    return 1 if any(severity[i] == "recommended" for i in affected) else 0


def test_baseline_is_ready_on_both_transports(make_transport, answers: Path, capsys) -> None:
    target = make_transport("ready")
    result, report = check(target, answers, capsys)
    assert result.code == 0 and statuses_of(report) == BASELINE
    assert target.sleeps == []


@pytest.mark.parametrize(("transport", "endpoint", "kind"), _cases())
def test_persistent_fault_makes_only_the_dependent_checks_unknown(transports, answers: Path, capsys, transport: str,
                                                                  endpoint: str, kind: str) -> None:
    fault, fragments, waits = KINDS[kind]
    read, path, affected = ENDPOINTS[endpoint]
    if (endpoint, kind) == ("graph.usersCount", "malformed"):
        fragments = ("not a count",)  # $count answers text/plain, not JSON
    scenario = load_scenario("ready").with_faults({"endpoint": endpoint, "count": 0, **fault})
    if endpoint == "mde.machines":  # the onboarded devices are counted by advanced hunting unless it is refused
        scenario = scenario.with_faults(HUNTING_REFUSED)
    target = transports[transport](scenario)
    result, report = check(target, answers, capsys)

    got = statuses_of(report)
    assert {k: v for k, v in got.items() if k not in affected} == {k: v for k, v in BASELINE.items()
                                                                    if k not in affected}
    for item in report["checks"]:
        if item["id"] not in affected:
            continue
        assert item["status"] == "unknown", item
        assert path in item["summary"] and all(f in item["summary"] for f in fragments), item["summary"]
        assert item["remediation"]["action"], item
        if kind == "403":  # the missing permission is named, with who can consent
            assert item["evidence"]["missing_permission"] == REQUIREMENTS[read].permission
            assert REQUIREMENTS[read].permission in item["summary"] and "admin consent" in item["summary"]
    assert result.code == expected_exit(affected, report) == report["exit_code"]
    assert sorted(target.sleeps) == sorted(waits)
    failed = [r for r in report["reads"] if not r["ok"]]
    if endpoint == "graph.me":
        assert [r["name"] for r in failed] == ["me"]
        assert report["operator"]["user_principal_name"] == "admin@contoso.onmicrosoft.com"  # from the sign-in


@pytest.mark.parametrize(("endpoint", "fault", "waits"), [
    pytest.param("graph.subscribedSkus", {"kind": "throttle", "retry_after": 3, "count": 2}, [3.0, 3.0],
                 id="429-retry-after-twice"),
    pytest.param("graph.usersCount", {"kind": "status", "status": 429}, [0.5], id="429-no-retry-after"),
    pytest.param("graph.tenantInformation", {"kind": "throttle", "retry_after": 2}, [2.0], id="429-inside-batch"),
    pytest.param("graph.tenantInformation", {"kind": "status", "status": 429}, [0.5],
                 id="429-no-retry-after-inside-batch"),
    pytest.param("mde.machines", {"kind": "status", "status": 503}, [0.5], id="503"),
    pytest.param("graph.caPolicies", {"kind": "status", "status": 504, "count": 2}, [0.5, 1.0], id="504-twice"),
    pytest.param("mde.deviceavinfo", {"kind": "timeout"}, [0.5], id="timeout"),
    pytest.param("graph.organization", {"kind": "reset"}, [0.5], id="reset"),
    pytest.param("graph.partners", {"kind": "truncated"}, [0.5], id="truncated"),
])
def test_transient_fault_is_retried_and_the_run_is_ready(make_transport, answers: Path, capsys, endpoint: str,
                                                         fault: dict, waits: list[float]) -> None:
    scenario = load_scenario("ready").with_faults({"endpoint": endpoint, **fault})
    target = make_transport(scenario.with_faults(HUNTING_REFUSED) if endpoint == "mde.machines" else scenario)
    result, report = check(target, answers, capsys)
    assert result.code == 0 and statuses_of(report) == BASELINE, result.err
    assert target.sleeps == waits


def test_truncated_second_page_is_retried_or_reported(make_transport, answers: Path, capsys) -> None:
    """150 conditional access policies come in two pages; the second one breaks off mid-body."""
    many = [{"name": f"Policy {n:03}", "grant": ["mfa"]} for n in range(150)]
    scenario = load_scenario("ready").merged({"ca_policies": many})
    once = make_transport(scenario.with_faults({"endpoint": "graph.caPolicies", "kind": "truncated", "skip": 1}))
    result, report = check(once, answers, capsys)
    assert result.code == 0 and statuses_of(report) == BASELINE
    assert next(r for r in report["reads"] if r["name"] == "ca_policies")["requests"] == 3  # page 1, 2 broken, 2

    always = make_transport(scenario.with_faults({"endpoint": "graph.caPolicies", "kind": "truncated", "skip": 1,
                                                  "count": 0}))
    result, report = check(always, answers, capsys)
    assert result.code == 3
    item = next(c for c in report["checks"] if c["id"] == "access.conditional_access")
    assert item["status"] == "unknown" and "broke while reading the answer" in item["summary"]
    assert "/v1.0/identity/conditionalAccess/policies" in item["summary"]


@pytest.mark.parametrize("moment", ["third-call", "inside-batch"])
def test_access_token_expiring_mid_run_is_refreshed(make_transport, answers: Path, capsys, moment: str) -> None:
    """The fake rejects every token issued so far (401) when the third Graph or MDE call arrives, or
    when the ``$batch`` does (Graph then answers 200 with inner 401s), as when a token expires at the
    server before the client expects it: the client gets a fresh one and goes on."""
    target = make_transport("ready")
    cloud = target.cloud
    handle = cloud.handle
    lock = threading.Lock()
    started = [0]
    statuses: list[int] = []

    def expiring(method: str, url: str, headers: Any = None, body: Any = None) -> Any:
        api_call = "/v1.0/" in url or "/api/" in url
        if api_call:
            with lock:
                started[0] += 1
                first_batch = url.endswith("/$batch") and not any(s == -1 for s in statuses)
                if (moment == "third-call" and started[0] == 3) or (moment == "inside-batch" and first_batch):
                    cloud.expire_access_tokens()
        reply = handle(method, url, headers, body)
        if api_call:
            statuses.append(reply.status)
            if url.endswith("/$batch"):
                statuses.append(-1)  # marks that a $batch went by
                statuses.extend(r["status"] for r in reply.json().get("responses", []))
        return reply

    cloud.handle = expiring
    result, report = check(target, answers, capsys)
    assert 401 in statuses, "the fake never rejected a token: the test proved nothing"
    assert result.code == 0 and statuses_of(report) == BASELINE, result.err
    assert len(cloud.tokens.access) > 2  # Graph and MDE tokens, then at least one fresh one


def test_refresh_token_revoked_mid_run_means_sign_in_again(make_transport, answers: Path, capsys) -> None:
    """Tokens shorter-lived than MSAL's margin make every read redeem the refresh token; the first
    redemption succeeds and revokes the grant, so the others fail. Reads already done keep their
    results; the rest are unknown and say to sign in again; exit 3."""
    target = make_transport(load_scenario("ready").with_knobs(token_lifetime=120))
    cloud = target.cloud
    handle = cloud.handle
    redeemed: list[int] = []

    def revoking(method: str, url: str, headers: Any = None, body: Any = None) -> Any:
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        reply = handle(method, url, headers, body)
        if url.endswith("/oauth2/v2.0/token") and "grant_type=refresh_token" in text:
            redeemed.append(reply.status)
            cloud.revoke_refresh_tokens()
        return reply

    cloud.handle = revoking
    result, report = check(target, answers, capsys)
    assert redeemed[0] == 200 and 400 in redeemed
    assert result.code == 3
    unknown = [c for c in report["checks"] if c["status"] == "unknown"]
    assert unknown and all("Sign-in required" in c["summary"] and "revoked" in c["summary"] for c in unknown)
    for item in report["checks"]:
        if item["status"] != "unknown":
            assert item["status"] == BASELINE[item["id"]]


def test_shipped_throttled_scenario_through_demo(monkeypatch, answers: Path, capsys) -> None:
    """``--demo throttled``: the scenario's 429s (with Retry-After, also MDE) are waited out."""
    sleeps: list[float] = []
    recorder = record_clouds(monkeypatch)
    fast_clients(monkeypatch, sleeps)
    result = run_cli(["--demo", "throttled", "check", "--answers", str(answers), "--format", "json"], capsys)
    assert result.code == 0, result.err
    assert statuses_of(json.loads(result.out)) == BASELINE
    assert sorted(sleeps) == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret(recorder.clouds, result.sources())
