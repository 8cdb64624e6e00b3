"""Scenario files: every shipped one loads and says what it promises; bad files are refused with the
file and the field named; overrides re-validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from dex_tui.demo import FakeCloud, load_scenario, scenario_from_dict, scenario_names
from dex_tui.demo.catalogue import EXPERTS_SKUS, ROLE_TEMPLATES
from dex_tui.errors import UsageError

REQUIRED = {"ready", "fresh", "missing-entra-p1", "passive-av", "no-devices", "gcc", "gcc-high", "not-admin",
            "throttled", "ca-blocks-device-code", "large"}


def test_every_required_scenario_ships_and_loads() -> None:
    names = scenario_names()
    assert REQUIRED <= set(names)
    assert not [n for n in names if n.startswith("_")]
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.summary
        assert scenario.behaviour.device_code.interval >= 1
        FakeCloud(scenario)


def test_user_codes_are_fixed_and_distinct_per_scenario() -> None:
    codes = {name: load_scenario(name).behaviour.device_code.user_code for name in scenario_names()}
    assert codes["ready"] == "DEMO-4821"
    assert len(set(codes.values())) == len(codes)


def test_scenarios_differ_where_they_say() -> None:
    ready, fresh = load_scenario("ready"), load_scenario("fresh")
    assert ready.experts.access_granted and ready.experts.licences_ordered == ("xdr",)
    assert not fresh.experts.access_granted and fresh.experts.licences_ordered == ()
    plans = {p.name for sku in load_scenario("missing-entra-p1").skus for p in sku.plans}
    assert "WINDEFATP" in plans and "AAD_PREMIUM" not in plans
    passive = {g.av_mode for g in load_scenario("passive-av").devices if g.onboarding == "Onboarded"}
    assert {"0", "1"} <= passive
    assert load_scenario("no-devices").devices == ()
    assert load_scenario("gcc").cloud.name == "gcc"
    assert load_scenario("gcc-high").cloud.name == "gcchigh"
    roles = {ROLE_TEMPLATES[r] for r in load_scenario("not-admin").operator.roles}
    assert ROLE_TEMPLATES["Security Administrator"] not in roles and ROLE_TEMPLATES["Global Administrator"] not in roles
    assert any(f.kind == "throttle" for f in load_scenario("throttled").behaviour.faults)
    assert load_scenario("ca-blocks-device-code").behaviour.device_code.approval == "ca_block"
    large = load_scenario("large")
    assert large.members + large.disabled_members + large.guests == 200_000
    assert sum(g.count for g in large.devices) == 100_000


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(UsageError) as caught:
        load_scenario("nope")
    assert "nope" in caught.value.explanation
    assert "ready" in caught.value.next_step and "large" in caught.value.next_step


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "field", "problem"), [
    ('[tenant]\nid = "not-a-guid"', "tenant.id", "not a GUID"),
    ('[behaviour.device_code]\napproval = "sometimes"', "behaviour.device_code.approval", "expected one of"),
    ('[behaviour.device_code]\ninterval = 0', "behaviour.device_code.interval", "between 1 and 60"),
    ('[[skus]]\npart_number = "SPE_E5"\nenabled = 5\nplans = ["NOT_A_PLAN"]', "skus[0].plans[0]",
     "unknown service plan"),
    ('[[skus]]\npart_number = "SPE_E5"\nenabled = "many"\nplans = []', "skus[0].enabled", "must be an integer"),
    ('[operator]\nroles = ["Chief Wizard"]', "operator.roles[0]", "expected one of"),
    ('[[devices]]\ncount = 3\nname = "ws{x}"', "devices[0].name", "pattern"),
    ('[[devices]]\ncount = 3\nname = "ws{n}"\nav_mode = "active"', "devices[0].av_mode", "expected one of"),
    ('[[behaviour.faults]]\nendpoint = "graph.nothing"\nkind = "throttle"', "behaviour.faults[0].endpoint",
     "graph.subscribedSkus"),
    ('[tenant]\nnow = "yesterday"', "tenant.now", "ISO 8601"),
    ('[tenant]\ncolour = "blue"', "tenant.colour", "not a known field"),
    ('[users]\nmembers = 2', "users.members", "fewer than"),
])
def test_malformed_scenario_names_file_and_field(tmp_path: Path, body: str, field: str, problem: str) -> None:
    path = _write(tmp_path, f'[scenario]\nextends = "ready"\nname = "custom"\n{body}\n')
    with pytest.raises(UsageError) as caught:
        load_scenario(str(path))
    message = caught.value.explanation
    assert str(path) in message
    assert f"field {field} " in message
    assert problem in message
    assert caught.value.title == "Invalid scenario"


def test_invalid_toml_and_missing_file_are_usage_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "[scenario\nname = 1")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_scenario(str(path))
    with pytest.raises(UsageError, match="does not exist"):
        load_scenario(str(tmp_path / "absent.toml"))


def test_missing_required_table_and_bad_extends(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="field tenant is missing"):
        load_scenario(str(_write(tmp_path, '[scenario]\nname = "x"\nsummary = "y"\n')))
    with pytest.raises(UsageError, match="scenario.extends names 'nowhere'"):
        load_scenario(str(_write(tmp_path, '[scenario]\nextends = "nowhere"\nname = "x"\n')))


def test_a_file_extending_a_scenario_gets_its_data(tmp_path: Path) -> None:
    path = _write(tmp_path, '[scenario]\nextends = "ready"\nname = "tiny"\n[users]\nmembers = 4\nguests = 0\n')
    scenario = load_scenario(str(path))
    assert scenario.name == "tiny" and scenario.members == 4
    assert scenario.display_name == "Contoso Ltd"
    assert scenario.experts.access_granted


def test_with_knobs_and_faults_revalidate() -> None:
    ready = load_scenario("ready")
    tuned = ready.with_knobs(latency_ms=25, device_code={"approval": "on_demand"})
    assert tuned.behaviour.latency_ms == 25
    assert tuned.behaviour.device_code.approval == "on_demand"
    assert tuned.behaviour.device_code.user_code == "DEMO-4821"
    assert ready.behaviour.latency_ms == 0  # the original is untouched
    faulty = ready.with_faults({"endpoint": "graph.me", "kind": "status", "status": 503, "count": 2})
    assert faulty.behaviour.faults[-1].status == 503
    with pytest.raises(UsageError, match=r"field behaviour\.faults\[0\]\.kind "):
        ready.with_faults({"endpoint": "graph.me", "kind": "explode"})
    changed = ready.merged({"operator": {"roles": []}})
    assert changed.operator.roles == ()


def test_scenario_from_dict() -> None:
    scenario = scenario_from_dict({"scenario": {"extends": "fresh", "name": "mine"},
                                   "users": {"members": 10, "guests": 1}}, "my test")
    assert scenario.name == "mine" and scenario.members == 10 and not scenario.experts.access_granted
    with pytest.raises(UsageError, match="'my test'"):
        scenario_from_dict({"scenario": {"extends": "fresh", "name": "Bad Name"}}, "my test")


def test_experts_sku_is_marked_assumed_and_tenant_is_not_the_unverified_one() -> None:
    for sku in EXPERTS_SKUS.values():
        assert sku.part_number.endswith("_ASSUMED")
    for name in scenario_names():
        assert load_scenario(name).experts.tenant_id != "37ac251a-9341-4ae8-b2a2-aa7febf5ce05"
