"""The review's lines for what today's steps recorded (the answers' ``[mdr]`` and ``[hunting]``
sections): MDR's access levels, exclusions, contacts and Teams; Hunting's contacts and sample
notification. Who recorded each and when is the step's confirmation, listed beside them."""

from __future__ import annotations

from rich.text import Text

from dex_tui.answers import Answers
from dex_tui.mdr_answers import Contact
from screens.text import plain, tenant

LEVEL_NAMES = {"security_reader": "Security Reader", "security_operator": "Security Operator"}
CONTACT_KINDS = {"incident_notification": "incident notification", "service_review": "service review",
                 "primary": "primary", "backup": "backup"}


def _names(names: tuple[str, ...]) -> Text:
    return Text(", ").join(tenant(name) for name in names) if names else plain("none")


def _contacts(contacts: tuple[Contact, ...]) -> list[Text]:
    return [plain(f"  {CONTACT_KINDS.get(c.kind, c.kind)}: ") + tenant(c.address) for c in contacts]


def recorded_lines(answers: Answers) -> list[Text]:
    """What today's steps of ``answers.service`` recorded, one line each (nothing for XDR)."""
    lines: list[Text] = []
    if answers.service == "mdr":
        mdr = answers.mdr
        if mdr is None:
            return [plain("Access levels, exclusions, contacts, Teams: not recorded", style="italic")]
        levels = " and ".join(LEVEL_NAMES[level] for level in mdr.access_levels or ()) or "not recorded"
        lines.append(plain(f"Access levels: {levels}"))
        if mdr.operator_skipped:
            ack = mdr.operator_skip_acknowledged
            line = plain("  Security Operator left out")
            if ack is not None:
                line.append_text(plain(" (acknowledged by ") + tenant(ack.by) + plain(f" at {ack.at})"))
            lines.append(line)
        if mdr.exclusion_device_groups is None and mdr.exclusion_user_groups is None:
            lines.append(plain("Exclusions: not recorded"))
        else:
            lines.append(plain("Exclusions: device groups ") + _names(mdr.exclusion_device_groups or ())
                         + plain("; user groups ") + _names(mdr.exclusion_user_groups or ()))
        lines.append(plain("Contacts:" + ("" if mdr.contacts else " not recorded")))
        lines += _contacts(mdr.contacts or ())
        teams = {None: "not recorded", False: "not used", True: "chosen"}[mdr.teams]
        if mdr.teams and mdr.teams_recorded is not None:
            teams = "Communicate on Teams selected"
        lines.append(plain(f"Teams: {teams}"))
    elif answers.service == "hunting":
        hunting = answers.hunting
        contacts = hunting.contacts if hunting is not None else None
        lines.append(plain("Notification contacts:" + ("" if contacts else " not recorded")))
        lines += _contacts(contacts or ())
        sent = hunting.sample_notification if hunting is not None else None
        lines.append(plain("Sample notification: ") + (tenant(sent.by) + plain(f" sent it at {sent.at}")
                                                         if sent is not None else plain("not recorded as sent")))
    return lines
