"""Snapshots of today's Defender Experts MDR flow (``--service mdr``) at 80x24 and 120x40: the Welcome
step with MDR chosen, Permissions (and the dialog that opens when Security Operator is left out),
Exclusions, Contacts, Teams, Service provider access, Readiness and the Review, on the mdr-* tenants.

Deep steps are resumed from a saved progress file holding what the earlier MDR steps recorded (as
tests/test_snap_support.py does for XDR), so each picture costs one sign-in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from textual.pilot import Pilot

from dex_tui.answers import Answers, Confirmation
from dex_tui.demo import load_scenario
from dex_tui.flow import steps_for
from dex_tui.mdr_answers import Contact, MdrAnswers, Recorded
from dex_tui.progress import Progress, ProgressStore, tenant_key
from screens.app import WizardApp
from screens.dialogs import SkipRoleDialog
from tests.test_snap_support import STATE_DIR, Drive, chain, compare_app, dialog, keys, until
from tests.test_wizard_support import NOW, make_app

ORDER = [s.id for s in steps_for("mdr")]


def mdr_answers(step: str, scenario: str, *, operator: bool = True) -> Answers:
    """What the MDR steps before ``step`` recorded: both access levels (or Reader only, acknowledged),
    the scenario's exclusion groups, two contacts and Teams set up."""
    who = load_scenario(scenario).operator.upn
    stamp, recorded = Confirmation(who, NOW), Recorded(who, NOW)
    done = set(ORDER[:ORDER.index(step)])
    answers = Answers(service="mdr")
    mdr = MdrAnswers()
    if "mdr_permissions" in done:
        levels = ("security_reader", "security_operator") if operator else ("security_reader",)
        mdr = replace(mdr.with_access_levels(levels, recorded),
                      operator_skip_acknowledged=None if operator else recorded)
        answers = answers.confirmed("mdr_permissions", stamp)
    if "mdr_exclusions" in done:
        mdr = replace(mdr, exclusion_device_groups=("Servers",), exclusion_user_groups=("VIP Executives",))
        answers = answers.confirmed("mdr_exclusions", stamp)
    if "mdr_contacts" in done:
        mdr = replace(mdr, contacts=(Contact("soc@contoso.com", "incident_notification"),
                                     Contact("ciso@contoso.com", "service_review")))
        answers = answers.confirmed("mdr_contacts", stamp)
    if "mdr_teams" in done:
        mdr = replace(mdr, teams=False)
        answers = answers.confirmed("mdr_teams", stamp)
    return replace(answers, mdr=mdr if done & {"mdr_permissions"} else None)


def save(scenario: str, step: str, answers: Answers) -> None:
    store = ProgressStore(STATE_DIR, tenant_key(None, scenario), clock=lambda: NOW)
    store.save(Progress(step=step, answers=answers, completed=tuple(ORDER[:ORDER.index(step)])))


def looked() -> Drive:
    """Wait until a live step has looked at the tenant and stopped watching."""
    return until(lambda app: getattr(app.screen, "rounds", 0) >= 1 and not app.screen.watching)


def shoot_saved(request: pytest.FixtureRequest, scenario: str, size: str, drive: Drive | None = None) -> bool:
    """As ``test_snap_support.shoot``, with the progress file saved already: the wizard resumes at the
    saved step (signing in) or opens on Welcome."""
    app = make_app(STATE_DIR, scenario, no_wait=True)
    return compare_app(request, app, size, app.core.resume_to, drive)


def mdr_shot(request: pytest.FixtureRequest, scenario: str, size: str, step: str, drive: Drive | None = None,
             *, operator: bool = True) -> bool:
    """The picture of ``step`` resumed with the MDR answers recorded before it."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    save(scenario, step, mdr_answers(step, scenario, operator=operator))
    return shoot_saved(request, scenario, size, drive)


def test_welcome_mdr_chosen_80x24(request: pytest.FixtureRequest) -> None:
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    save("mdr-ready", "welcome", Answers(service="mdr"))
    assert shoot_saved(request, "mdr-ready", "80x24")


def test_welcome_mdr_chosen_120x40(request: pytest.FixtureRequest) -> None:
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    save("mdr-ready", "welcome", Answers(service="mdr"))
    assert shoot_saved(request, "mdr-ready", "120x40")


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_permissions(request: pytest.FixtureRequest, size: str) -> None:
    assert mdr_shot(request, "mdr-ready", size, "mdr_permissions")


def test_permissions_operator_left_out_dialog_80x24(request: pytest.FixtureRequest) -> None:
    """Reader ticked, Next: the dialog names the managed-response actions lost."""
    assert mdr_shot(request, "mdr-ready", "80x24", "mdr_permissions",
                    chain(keys("space"), until(lambda app: app.flow.answers.mdr is not None), keys("ctrl+n"),
                          dialog(SkipRoleDialog)))


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_exclusions_synced_group(request: pytest.FixtureRequest, size: str) -> None:
    """The recorded exclusion group is synced from on-premises: the live check fails."""
    assert mdr_shot(request, "mdr-synced-exclusion", size, "mdr_exclusions",
                    chain(until(lambda app: app.screen.query("#exclusions-user_groups")), _record_exclusions(),
                          looked()))


def _record_exclusions() -> Drive:
    async def drive(app: WizardApp, pilot: Pilot[Any]) -> None:
        app.screen.query_one("#exclusions-device_groups").value = "Servers"  # type: ignore[attr-defined]
        field = app.screen.query_one("#exclusions-user_groups")
        field.value = "VIP Executives"  # type: ignore[attr-defined]
        field.focus()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    return drive


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_contacts(request: pytest.FixtureRequest, size: str) -> None:
    assert mdr_shot(request, "mdr-ready", size, "mdr_contacts")


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_teams_group_creation_off(request: pytest.FixtureRequest, size: str) -> None:
    """Use Teams on a tenant where Microsoft 365 group creation is off: the preconditions fail live."""

    async def use_teams(app: WizardApp, pilot: Pilot[Any]) -> None:
        button = app.screen.query_one("#teams-yes")
        button.focus()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert mdr_shot(request, "mdr-no-group-creation", size, "mdr_teams", chain(looked(), use_teams, looked()))


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_access_operator_left_out(request: pytest.FixtureRequest, size: str) -> None:
    """Service provider access watched live, with the left-out Security Operator warning."""
    assert mdr_shot(request, "mdr-ready", size, "access", until(lambda app: getattr(app.screen, "rounds", 0) >= 1),
                    operator=False)


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_readiness_health_issues(request: pytest.FixtureRequest, size: str) -> None:
    """The readiness mirror on a tenant with open Defender for Identity health issues."""
    assert mdr_shot(request, "mdr-synced-exclusion", size, "mdr_readiness", looked())


@pytest.mark.parametrize("size", ["80x24", "120x40"])
def test_review_ready(request: pytest.FixtureRequest, size: str) -> None:
    assert mdr_shot(request, "mdr-ready", size, "review")


def test_review_operator_left_out_120x40(request: pytest.FixtureRequest) -> None:
    assert mdr_shot(request, "mdr-ready", "120x40", "review", operator=False)


def test_exclusions_picker_80x24(request: pytest.FixtureRequest) -> None:
    """Pick from the tenant: the device groups with their devices, the security groups (synced: not pickable)."""
    from screens.group_picker import GroupPickerDialog

    async def pick(app: WizardApp, pilot: Pilot[Any]) -> None:
        button = app.screen.query_one("#pick-groups")
        button.focus()
        await pilot.pause()
        await pilot.press("enter")

    assert mdr_shot(request, "mdr-synced-exclusion", "80x24", "mdr_exclusions",
                    chain(looked(), pick, dialog(GroupPickerDialog)))
