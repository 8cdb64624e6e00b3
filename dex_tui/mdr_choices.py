"""The changes today's wizard steps make to the answers (MDR's Permissions, Exclusions, Contacts and
Teams; Hunting's contacts and sample notification), as functions ``(answers, who/when) -> answers``
for :meth:`dex_tui.session.WizardSession.record_choice`. Headless, so the screens and any other front
end record the same values the answers file holds (``[mdr]``, ``[hunting]``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dex_tui.answers import Answers, Confirmation
from dex_tui.mdr_answers import Contact, HuntingOnboarding, MdrAnswers, Recorded

Change = Callable[[Answers, Confirmation], Answers]


def _mdr(answers: Answers) -> MdrAnswers:
    return answers.mdr or MdrAnswers()


def access_levels(levels: tuple[str, ...], acknowledged: bool = False) -> Change:
    """Record the access level(s) ``levels``; when Security Operator is left out, ``acknowledged`` records
    who acknowledged the managed-response actions lost (else an earlier acknowledgement stays)."""

    def change(answers: Answers, stamp: Confirmation) -> Answers:
        mdr = _mdr(answers).with_access_levels(levels, Recorded(stamp.by, stamp.at))
        ack = None
        if mdr.operator_skipped:
            ack = Recorded(stamp.by, stamp.at) if acknowledged else mdr.operator_skip_acknowledged
        return replace(answers, mdr=replace(mdr, operator_skip_acknowledged=ack))

    return change


def exclusions(device_groups: tuple[str, ...], user_groups: tuple[str, ...]) -> Change:
    """Record the exclusion groups (both empty: recorded as none)."""

    def change(answers: Answers, stamp: Confirmation) -> Answers:
        return replace(answers, mdr=replace(_mdr(answers), exclusion_device_groups=device_groups,
                                            exclusion_user_groups=user_groups))

    return change


def mdr_contacts(contacts: tuple[Contact, ...]) -> Change:
    """Record MDR's notification contacts (incident notification, service review)."""

    def change(answers: Answers, stamp: Confirmation) -> Answers:
        return replace(answers, mdr=replace(_mdr(answers), contacts=contacts))

    return change


def teams(chosen: bool, set_up: bool = False) -> Change:
    """Record Teams as ``chosen`` or not; ``set_up``: the operator selected Communicate on Teams in the
    portal (who, when), so the "Defender Experts team" should now exist."""

    def change(answers: Answers, stamp: Confirmation) -> Answers:
        mdr = _mdr(answers)
        recorded = Recorded(stamp.by, stamp.at) if set_up else (mdr.teams_recorded if chosen else None)
        return replace(answers, mdr=replace(mdr, teams=chosen, teams_recorded=recorded))

    return change


def hunting_contacts(contacts: tuple[Contact, ...]) -> Change:
    """Record Hunting's notification contacts (primary, then backup)."""

    def change(answers: Answers, stamp: Confirmation) -> Answers:
        return replace(answers, hunting=replace(answers.hunting or HuntingOnboarding(), contacts=contacts))

    return change


def sample_sent(answers: Answers, stamp: Confirmation) -> Answers:
    """Record that the operator sent Hunting's sample notification from the portal (who, when)."""
    onboarding = answers.hunting or HuntingOnboarding()
    return replace(answers, hunting=replace(onboarding, sample_notification=Recorded(stamp.by, stamp.at)))
