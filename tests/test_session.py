"""The wizard's session, headless: whole flows walked with Textual never imported, a step added from a
temporary flow file, the sign-in-again signal, and old progress and answers files still loading."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dex_tui.answers import Answers, Confirmation, load_answers
from dex_tui.assets import asset_path
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls
from dex_tui.errors import InternalError
from dex_tui.flow import Flow, default_flow
from dex_tui.progress import ProgressStore, tenant_key
from dex_tui.results import Status
from dex_tui.session import WizardSession
from dex_tui.settings import Settings

NOW = "2026-11-24T10:00:00Z"

# Drives a session from the first step to the exit code, the way the App does, in a fresh interpreter.
WALK = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from dex_tui.demo import FakeCloud, load_scenario
    from dex_tui.demo_controls import DemoControls
    from dex_tui.session import WizardSession
    from dex_tui.settings import Settings

    from dex_tui import mdr_choices
    from dex_tui.mdr_answers import Contact

    service, state_dir, scenario = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    demo = DemoControls(FakeCloud(load_scenario(scenario), sleep=lambda seconds: None))
    session = WizardSession(Settings(demo=scenario, state_dir=state_dir), demo=demo)
    visited, blocked = [session.state.step], []

    def next_step():
        move = session.go_next()
        if move.blocked:
            blocked.append((session.state.step, move.blocked))
        elif move.step:
            visited.append(move.step)
        return move

    session.choose_target(service=service, cloud=None, tenant=None)
    next_step()                                   # welcome -> signin
    next_step()                                   # blocked: nobody signed in
    auth = session.runtime.authenticator()
    session.signed_in(auth.sign_in_with_device_code(lambda prompt: demo.approve_device_code()))
    end = session.run_checks()
    assert end is not None and end.ended is None, end
    while True:
        step = session.state.step
        if step == "terms" and session.blocker():
            next_step()                           # blocked until accepted
            session.confirm("terms", service=service)
        if step == "license":
            session.perform_demo("license")       # the admin center's order, in the fake tenant
            session.confirm("license", service=service, seen_in_tenant=[])
        if step == "permissions":
            next_step()                           # blocked until each role is decided
            session.decide_role("security_operator", True)
            session.decide_role("security_administrator", True)
        if step == "access":
            session.perform_demo("access")        # Give access, in the fake tenant
            ids = session.flow.get("access").watches
            session.watch(ids, until=lambda results: True, on_round=session.merge_results,
                          is_cancelled=lambda: False)
        if step == "hunting_contacts":
            next_step()                           # blocked until the primary contact is recorded
            session.record_choice(step, mdr_choices.hunting_contacts((Contact("soc@contoso.com", "primary"),
                                                                      Contact("oncall@contoso.com", "backup"))))
        if step == "hunting_sample":
            session.perform_demo(step)            # Generate a sample notification, in the fake tenant
            session.record_choice(step, mdr_choices.sample_sent)
            session.watch(session.flow.get(step).watches, until=lambda results: True,
                          on_round=session.merge_results, is_cancelled=lambda: False)
        if step == "mdr_permissions":
            next_step()                           # blocked until the access levels are recorded
            session.record_choice(step, mdr_choices.access_levels(("security_reader",)), access_levels=["r"])
            next_step()                           # blocked: Security Operator left out, not acknowledged
            session.record_choice(step, mdr_choices.access_levels(("security_reader",), acknowledged=True))
            session.perform_demo(step)            # Give access, in the fake tenant
        if step == "mdr_exclusions":
            session.record_choice(step, mdr_choices.exclusions(("Servers",), ("VIP Executives",)))
        if step == "mdr_contacts":
            next_step()                           # blocked until the contacts are recorded
            session.record_choice(step, mdr_choices.mdr_contacts((
                Contact("soc@contoso.com", "incident_notification"), Contact("ciso@contoso.com", "service_review"))))
        if step == "mdr_teams":
            session.record_choice(step, mdr_choices.teams(True))
            session.perform_demo(step)            # Communicate on Teams, in the fake tenant
            session.record_choice(step, mdr_choices.teams(True, set_up=True))
        if step in ("access", "mdr_exclusions", "mdr_teams", "mdr_readiness"):
            session.watch(session.flow.get(step).watches, until=lambda results: True,
                          on_round=session.merge_results, is_cancelled=lambda: False)
        move = next_step()
        if move.finished is not None:
            break
    events = [json.loads(line)["event"] for line in session.audit.path.read_text().splitlines()]
    print(json.dumps({"textual": "textual" in sys.modules, "visited": visited, "blocked": blocked,
                      "exit": move.finished, "events": events,
                      "statuses": {k: r.status.value for k, r in session.results.items()},
                      "report": session.build_report()["verdict"],
                      "saved": json.loads(session.progress_store.path.read_text())["answers"]}))
    session.close()
''')


def walk(service: str, state_dir: Path, scenario: str = "fresh") -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", WALK, service, str(state_dir), scenario], capture_output=True,
                          text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_whole_xdr_flow_runs_through_the_session_without_textual(tmp_path: Path) -> None:
    result = walk("xdr", tmp_path)
    assert result["textual"] is False
    assert result["visited"] == ["welcome", "signin", "eligibility", "terms", "license", "permissions", "access",
                                 "review"]
    assert [step for step, _ in result["blocked"]] == ["signin", "terms", "permissions"]  # type: ignore[union-attr]
    assert result["exit"] == 0 and result["report"] == "ready"
    assert result["events"] == ["terms_accepted", "license_confirmed", "role_granted", "role_granted"]
    saved = result["saved"]
    assert isinstance(saved, dict) and set(saved) >= {"terms", "license", "roles"}


def test_the_whole_hunting_flow_runs_through_the_session_without_textual(tmp_path: Path) -> None:
    result = walk("hunting", tmp_path)
    assert result["textual"] is False
    assert result["visited"] == ["welcome", "signin", "eligibility", "terms", "license", "hunting_contacts",
                                 "hunting_sample", "review"]
    assert [step for step, _ in result["blocked"]] == ["signin", "terms", "hunting_contacts"]  # type: ignore[union-attr]
    assert result["events"] == ["terms_accepted", "license_confirmed", "hunting_contacts_recorded",
                                "sample_notification_sent"]
    statuses = result["statuses"]
    assert isinstance(statuses, dict) and statuses["experts.roles"] == "skipped"
    assert statuses["hunting.sample_notification"] == "pass"  # the demo's sample incident, found live
    saved = result["saved"]
    assert isinstance(saved, dict) and saved["hunting"]["contacts"][0] == {"address": "soc@contoso.com",
                                                                          "for": "primary"}
    assert set(saved) >= {"hunting_contacts", "hunting_sample"}  # who recorded them, and when
    assert result["exit"] == 0 and result["report"] == "ready"


def test_the_whole_mdr_flow_runs_through_the_session_without_textual(tmp_path: Path) -> None:
    result = walk("mdr", tmp_path, "mdr-ready")
    assert result["textual"] is False
    assert result["visited"] == ["welcome", "signin", "eligibility", "mdr_permissions", "mdr_exclusions",
                                 "mdr_contacts", "mdr_teams", "access", "mdr_readiness", "review"]
    blocked = result["blocked"]
    assert isinstance(blocked, list) and [step for step, _ in blocked] == [
        "signin", "mdr_permissions", "mdr_permissions", "mdr_contacts"]
    assert blocked[2][1] == "Acknowledge what the experts cannot do without Security Operator, or grant it."
    assert result["events"] == ["access_levels_recorded", "access_levels_recorded", "exclusions_recorded",
                                "contacts_recorded", "teams_recorded", "teams_recorded"]
    statuses = result["statuses"]
    assert isinstance(statuses, dict)
    assert {statuses[i] for i in ("exclusions.groups", "contacts.notification", "teams.ready",
                                  "access.service_provider", "access.conditional_access")} == {"pass"}
    assert statuses["experts.access_level"] == "warn"  # Security Operator left out, acknowledged
    saved = result["saved"]
    assert isinstance(saved, dict) and saved["mdr"]["access_levels"] == ["security_reader"]
    assert saved["mdr"]["operator_skip_acknowledged"]["by"]
    assert set(saved) >= {"mdr_permissions", "mdr_exclusions", "mdr_contacts", "mdr_teams"}
    assert result["exit"] == 1 and result["report"] == "warnings"


CONTACTS = '''
[[step]]
id = "contacts"
title = "Notification contacts"
purpose = "Name who the experts notify about incidents, and confirm it is done."
services = ["xdr"]
link = "https://security.microsoft.com/"
link_label = "Microsoft Defender portal"
portal_path = "Settings > Defender Experts > Notification contacts"
gate = "confirmed"
gate_hint = "Add the contacts in the portal, then confirm."
confirms = { label = "Notification contacts added", event = "contacts_confirmed" }
help = "Add the incident notification and service review contacts."

'''


def flow_with_contacts(tmp_path: Path) -> Flow:
    """The shipped flow with a "Notification contacts" step before the review, from a temporary file."""
    text = asset_path("flow.toml").read_text(encoding="utf-8")
    cut = text.index('[[step]]\nid = "review"')
    path = tmp_path / "mdr.toml"
    path.write_text(text[:cut] + CONTACTS.lstrip() + text[cut:], encoding="utf-8")
    return Flow.load(path)


def signed_in_session(tmp_path: Path, flow: Flow | None = None, **knobs: object) -> WizardSession:
    scenario = load_scenario("ready").with_knobs(**knobs) if knobs else load_scenario("ready")
    demo = DemoControls(FakeCloud(scenario, sleep=lambda seconds: None))
    session = WizardSession(Settings(demo="ready", state_dir=tmp_path), flow=flow, demo=demo, now_iso=lambda: NOW)
    session.goto("signin")
    auth = session.runtime.authenticator()
    session.signed_in(auth.sign_in_with_device_code(lambda prompt: demo.approve_device_code()))
    return session


def test_a_step_added_in_a_flow_file_is_walked_headless_and_saved(tmp_path: Path) -> None:
    flow = flow_with_contacts(tmp_path)
    session = signed_in_session(tmp_path, flow)
    assert session.run_checks() is not None
    session.goto("access")
    move = session.go_next()
    assert move.step == "contacts" and session.flow.step_number("contacts", "xdr") == (8, 9)
    assert session.go_next().blocked == "Add the contacts in the portal, then confirm."
    session.confirm("contacts")
    assert session.state.answers.confirmation("contacts") == Confirmation(session.operator, NOW)
    assert session.go_next().step == "review"
    assert "contacts" not in [s.id for s in flow.steps_for("hunting")]
    session.close()
    # saved, and read back by a store of that edition
    store = ProgressStore(tmp_path, tenant_key(None, "ready"), flow=flow)
    loaded = store.load().progress
    assert loaded is not None and loaded.answers.confirmation("contacts") is not None
    store.release()
    events = [json.loads(line)["event"] for line in session.audit.path.read_text().splitlines()]
    assert events == ["contacts_confirmed"]


def test_a_flow_file_with_a_broken_step_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(CONTACTS.replace('gate = "confirmed"', 'gate = "moon"'), encoding="utf-8")
    with pytest.raises(InternalError, match=r"bad.toml: step 1: gate must be one of"):
        Flow.load(path)


def test_answer_dependent_checks_come_from_the_flow() -> None:
    flow = default_flow()
    assert set(flow.answer_checks()) == {c for step in flow.steps for c in step.checks}
    assert {"experts.terms", "experts.license", "experts.roles"} <= set(flow.answer_checks())
    assert flow.steps_before_session() == ("welcome", "signin")


def test_confirming_on_a_step_evaluates_the_checks_that_read_it_again(tmp_path: Path) -> None:
    session = signed_in_session(tmp_path)
    session.run_checks()
    assert session.results["experts.terms"].status is Status.UNKNOWN
    session.confirm("terms", service="xdr")
    assert session.results["experts.terms"].status is Status.PASS
    session.close()


def test_a_revoked_sign_in_ends_the_session_with_a_typed_signal(tmp_path: Path) -> None:
    session = signed_in_session(tmp_path, token_lifetime=120)  # every read redeems the refresh token
    session.run_checks()
    session.goto("license")
    cloud = session.demo.cloud if session.demo else None
    assert cloud is not None
    cloud.revoke_refresh_tokens()
    run = session.begin_checks()
    assert run is not None
    results = run.execute()
    assert any(read.kind == "session-ended" for read in run.checker.facts.reads.values())
    end = session.checks_finished(results, run.number)
    assert end is not None and end.ended is not None and end.problem is None
    assert end.ended.step == "signin" and end.ended.resume_to == "license" and end.ended.moved
    assert session.signed is None and session.needs_new_code and session.state.step == "signin"
    session.close()


def test_an_old_progress_file_still_loads(tmp_path: Path) -> None:
    """A progress file as the wizard wrote it before the answers held confirmations by step id."""
    folder = tmp_path / "progress"
    folder.mkdir(mode=0o700)
    old = {"version": 1, "tenant": "demo-ready", "tenant_id": None, "cloud": None, "step": "permissions",
           "completed": ["eligibility", "license", "signin", "terms", "welcome"], "saved_at": NOW,
           "answers": {"service": "xdr", "terms": {"by": "admin@contoso.com", "at": NOW},
                       "license": {"by": "admin@contoso.com", "at": NOW}, "roles": {"security_operator": False},
                       "acknowledgements": {"skip_security_operator": {"by": "admin@contoso.com", "at": NOW}}}}
    (folder / "demo-ready.json").write_text(json.dumps(old), encoding="utf-8")
    (folder / "demo-ready.json").chmod(0o600)
    session = WizardSession(Settings(demo="ready", state_dir=tmp_path), now_iso=lambda: NOW)
    answers = session.state.answers
    assert session.resume_to == "permissions" and session.state.step == "signin"
    assert answers.confirmation("terms") == Confirmation("admin@contoso.com", NOW) == answers.terms
    assert answers.confirmation("license") is not None and answers.roles["security_operator"] is False
    session.save_progress()
    again = json.loads((folder / "demo-ready.json").read_text())["answers"]
    assert again == old["answers"] | {"roles": {"security_operator": False}}
    session.close()


def test_an_old_answers_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(textwrap.dedent(f'''
        service = "xdr"
        [terms]
        by = "admin@contoso.com"
        at = {NOW}
        [license]
        by = "admin@contoso.com"
        at = "{NOW}"
        [access]
        by = "admin@contoso.com"
        at = "{NOW}"
        [roles]
        security_reader = true
        security_operator = true
        security_administrator = false
        [acknowledgements.skip_security_administrator]
        by = "admin@contoso.com"
        at = "{NOW}"
    '''), encoding="utf-8")
    answers = load_answers(path)
    assert {name: c.by for name, c in answers.confirmations.items()} == dict.fromkeys(
        ("terms", "license", "access"), "admin@contoso.com")
    assert answers.roles == {"security_operator": True, "security_administrator": False}
    assert Answers.from_dict(json.loads(json.dumps(answers.to_dict()))) == answers
    path.write_text(answers.to_toml(), encoding="utf-8")
    assert load_answers(path) == answers


def test_choosing_a_tenant_another_wizard_has_open_changes_nothing(tmp_path: Path) -> None:
    from dex_tui.progress import TenantInUse

    session = WizardSession(Settings(state_dir=tmp_path, token_cache="memory"), now_iso=lambda: NOW)
    holder = subprocess.Popen(  # another dex-tui process holding that tenant's lock
        [sys.executable, "-c", "import sys; from pathlib import Path; from dex_tui.progress import ProgressStore; "
         f"s = ProgressStore(Path({str(tmp_path)!r}), 'contoso.onmicrosoft.com'); s.acquire(); print('held', "
         "flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        stopped: list[str] = []
        with pytest.raises(TenantInUse):
            session.choose_target(service="hunting", cloud=None, tenant="contoso.onmicrosoft.com",
                                  before_drop=lambda: stopped.append("stopped"))
        assert session.tenant_choice is None and session.progress_store.key == "organizations"
        assert session.state.answers.service == "xdr" and stopped == []
    finally:
        holder.communicate("", timeout=30)
    assert session.choose_target(service="hunting", cloud=None, tenant="contoso.onmicrosoft.com") is False
    assert session.progress_store.key == "contoso.onmicrosoft.com" and session.state.answers.service == "hunting"
    session.close()
