"""The headless flow: step catalogue, which steps apply to which service, and the gates."""

from __future__ import annotations

import pytest

from dex_tui.answers import Answers, Confirmation
from dex_tui.flow import (
    FlowState,
    all_steps,
    applicable_step,
    leave_blocker,
    next_step,
    previous_step,
    step_number,
    steps_for,
)

ME = Confirmation("admin@contoso.com", "2026-11-24T10:00:00Z")


def test_catalogue_has_every_step_with_title_purpose_and_help() -> None:
    ids = [s.id for s in all_steps()]
    assert ids == ["welcome", "signin", "eligibility", "terms", "license", "hunting_contacts", "hunting_sample",
                   "permissions", "mdr_permissions", "mdr_exclusions", "mdr_contacts", "mdr_teams", "access",
                   "mdr_readiness", "review"]
    for step in all_steps():
        assert step.title and step.help
        assert step.purpose.endswith(".") and step.purpose.count(". ") == 0  # one sentence


def test_hunting_skips_permissions_and_access() -> None:
    assert [s.id for s in steps_for("hunting")] == ["welcome", "signin", "eligibility", "terms", "license",
                                                    "hunting_contacts", "hunting_sample", "review"]
    assert next_step("license", "hunting") == "hunting_contacts"
    assert previous_step("review", "hunting") == "hunting_sample"
    assert next_step("license", "xdr") == "permissions"
    assert step_number("review", "hunting") == (8, 8)
    assert step_number("access", "xdr") == (7, 8)
    assert next_step("review", "xdr") is None and previous_step("welcome", "xdr") is None


def test_applicable_step_maps_xdr_only_steps_for_hunting() -> None:
    assert applicable_step("permissions", "hunting") == "review"
    assert applicable_step("terms", "hunting") == "terms"
    assert applicable_step("nowhere", "xdr") == "welcome"


def test_terms_gate() -> None:
    assert "Accept" in leave_blocker("terms", Answers())
    assert leave_blocker("terms", Answers(confirmations={"terms": ME})) is None


def test_sign_in_gate() -> None:
    assert leave_blocker("signin", Answers(), signed_in=False)
    assert leave_blocker("signin", Answers(), signed_in=True) is None


def test_permissions_gate_needs_a_choice_and_an_acknowledgement_per_skip() -> None:
    answers = Answers()
    assert "Security operator" in leave_blocker("permissions", answers)
    answers = answers.with_role("security_operator", True)
    assert "Security administrator" in leave_blocker("permissions", answers)
    answers = answers.with_role("security_administrator", False)
    assert "Acknowledge" in leave_blocker("permissions", answers)
    answers = Answers(roles=answers.roles, acknowledgements={"skip_security_administrator": ME})
    assert leave_blocker("permissions", answers) is None


def test_licence_and_access_never_block() -> None:
    assert leave_blocker("license", Answers()) is None
    assert leave_blocker("access", Answers()) is None


def test_flow_state_moves_and_refuses_with_a_reason() -> None:
    state = FlowState()
    assert state.step == "welcome"
    state = state.go_next().go_next()
    assert state.step == "eligibility" and state.completed == {"welcome", "signin"}
    state = state.go_next()
    with pytest.raises(ValueError, match="Accept"):
        state.go_next()
    state = FlowState(step="terms", answers=Answers(confirmations={"terms": ME})).go_next()
    assert state.step == "license"
    assert state.go_back().step == "terms"
    hunting = state.with_answers(Answers(service="hunting", confirmations={"terms": ME}))
    assert hunting.go_next().step == "hunting_contacts"
    on_permissions = FlowState(step="permissions")
    assert on_permissions.with_answers(Answers(service="hunting")).step == "review"


def test_later_steps_settle_their_checks() -> None:
    from dex_tui.catalogue import ALL_CHECK_IDS
    from dex_tui.flow import step_settling

    assert step_settling("experts.terms", "xdr").id == "terms"
    assert step_settling("access.conditional_access", "xdr").id == "access"
    assert step_settling("access.conditional_access", "hunting") is None
    assert step_settling("license.mde_p2", "xdr") is None
    settled = {c for step in all_steps() for c in step.checks}
    assert settled <= set(ALL_CHECK_IDS)
    assert step_settling("experts.access_level", "mdr").id == "mdr_permissions"
    assert step_settling("access.conditional_access", "mdr").id == "access"
    assert step_settling("hunting.sample_notification", "hunting").id == "hunting_sample"


def test_mdr_has_todays_steps_and_no_terms_or_licence_order() -> None:
    assert [s.id for s in steps_for("mdr")] == ["welcome", "signin", "eligibility", "mdr_permissions",
                                                "mdr_exclusions", "mdr_contacts", "mdr_teams", "access",
                                                "mdr_readiness", "review"]
    assert applicable_step("terms", "mdr") == "mdr_permissions"
    assert step_number("access", "mdr") == (8, 10)
    for step in steps_for("mdr")[3:-1]:
        assert step.link.startswith("https://") and "Defender Experts" in step.portal_path or step.id == "access"


def test_mdr_permissions_gate_needs_levels_and_an_acknowledged_operator_skip() -> None:
    from dex_tui.mdr_answers import MdrAnswers, Recorded

    assert "access level" in leave_blocker("mdr_permissions", Answers(service="mdr"))
    reader = MdrAnswers(access_levels=("security_reader",))
    assert "Acknowledge" in leave_blocker("mdr_permissions", Answers(service="mdr", mdr=reader))
    acked = MdrAnswers(access_levels=("security_reader",), operator_skip_acknowledged=Recorded(ME.by, ME.at))
    assert leave_blocker("mdr_permissions", Answers(service="mdr", mdr=acked)) is None
    both = MdrAnswers(access_levels=("security_reader", "security_operator"))
    assert leave_blocker("mdr_permissions", Answers(service="mdr", mdr=both)) is None
