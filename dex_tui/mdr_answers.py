"""The operator's choices in today's flows, which no API shows: the Defender Experts MDR setup
(``[mdr]`` in the answers file) and Defender Experts Hunting's onboarding (``[hunting]``).

Frozen values, so the wizard's MDR steps can build the same value the answers file gives
(:meth:`MdrAnswers.from_dict` / :meth:`to_dict` round-trip). Format: README, "Answers file".
Facts: reference/mdr-today.md ("Today's MDR setup, step by step"; "Hunting today").
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from dex_tui.errors import UsageError
from dex_tui.records import dataclass
from dex_tui.stamps import utc_stamp

ACCESS_LEVELS = ("security_reader", "security_operator")  # "Investigate…" / "Respond directly…" (§1.3)
CONTACT_KINDS = ("incident_notification", "service_review")
HUNTING_PRIORITIES = ("primary", "backup")
MAX_NAMES = 100  # groups or contacts per list: far above what the portal's pickers hold
MAX_TEXT = 256
# A deliberately plain address shape: one @, no spaces or control characters, a dotted domain.
_ADDRESS = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,32}$")


def is_address(text: str) -> bool:
    """Whether ``text`` has the shape of an e-mail address (not whether the mailbox exists)."""
    return bool(_ADDRESS.match(text)) and len(text) <= 254


def split_addresses(text: str) -> tuple[tuple[str, ...], str | None]:
    """Addresses typed in one field, separated by commas, semicolons or spaces: the addresses, in order
    and each once (case-insensitively), and what is wrong in words (None: nothing), naming the first
    entry that is not an address. The wizard's contact steps record nothing while it is not None."""
    entries = [entry for entry in re.split(r"[,;\s]+", text) if entry]
    if len(entries) > MAX_NAMES:
        return (), f"{len(entries)} addresses; at most {MAX_NAMES}."
    for entry in entries:
        if not is_address(entry):
            shown = entry if len(entry) <= 60 else entry[:59] + "…"
            return (), f"{shown!r} is not an e-mail address (name@domain.example)."
    seen: dict[str, str] = {}
    for entry in entries:
        seen.setdefault(entry.lower(), entry)
    return tuple(seen.values()), None


def split_names(text: str) -> tuple[tuple[str, ...], str | None]:
    """Group names typed in one field, separated by commas: the names (each once, case-insensitively)
    and what is wrong in words (None: nothing). The wizard's Exclusions step records nothing while it
    is not None."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) > MAX_NAMES:
        return (), f"{len(names)} names; at most {MAX_NAMES}."
    for name in names:
        if len(name) > MAX_TEXT or not name.isprintable():
            return (), f"a name must be at most {MAX_TEXT} printable characters."
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.lower(), name)
    return tuple(unique.values()), None


@dataclass(frozen=True)
class Recorded:
    """Who recorded a choice, and when (ISO 8601, UTC), as the audit trail shows it."""

    by: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "at": self.at}


@dataclass(frozen=True)
class Contact:
    """One notification contact of the Contacts step (MDR) or of Hunting's onboarding."""

    address: str
    kind: str  # MDR: incident_notification | service_review; Hunting: primary | backup
    phone: str = ""

    def to_dict(self) -> dict[str, str]:
        data = {"address": self.address, "for": self.kind}
        if self.phone:
            data["phone"] = self.phone
        return data


@dataclass(frozen=True)
class MdrAnswers:
    """What the operator chose on Settings > Defender Experts > Get started (MDR).

    ``None`` means "not recorded yet" everywhere; an empty tuple means "recorded: none".
    ``access_levels`` holds the level(s) ticked (one or both of :data:`ACCESS_LEVELS`);
    ``operator_skip_acknowledged`` is who acknowledged the lost managed-response actions when
    Security Operator was left out.
    """

    access_levels: tuple[str, ...] | None = None
    access_recorded: Recorded | None = None
    operator_skip_acknowledged: Recorded | None = None
    exclusion_device_groups: tuple[str, ...] | None = None
    exclusion_user_groups: tuple[str, ...] | None = None
    contacts: tuple[Contact, ...] | None = None
    teams: bool | None = None
    teams_recorded: Recorded | None = None
    scoped_coverage: bool | None = None

    def with_access_levels(self, levels: tuple[str, ...], recorded: Recorded | None = None) -> MdrAnswers:
        return replace(self, access_levels=tuple(level for level in ACCESS_LEVELS if level in levels),
                       access_recorded=recorded or self.access_recorded)

    @property
    def operator_skipped(self) -> bool:
        return self.access_levels is not None and "security_operator" not in self.access_levels

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.access_levels is not None:
            data["access_levels"] = list(self.access_levels)
        for key in ("access_recorded", "operator_skip_acknowledged", "teams_recorded"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value.to_dict()
        if self.exclusion_device_groups is not None or self.exclusion_user_groups is not None:
            data["exclusions"] = {"device_groups": list(self.exclusion_device_groups or ()),
                                  "user_groups": list(self.exclusion_user_groups or ())}
        if self.contacts is not None:
            data["contacts"] = [c.to_dict() for c in self.contacts]
        if self.teams is not None:
            data["teams"] = self.teams
        if self.scoped_coverage is not None:
            data["scoped_coverage"] = self.scoped_coverage
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> MdrAnswers:
        """Parse the ``[mdr]`` table; every problem is a UsageError naming ``where`` and the key."""
        table = _table(data, where, ("access_levels", "access_recorded", "operator_skip_acknowledged",
                                     "exclusions", "contacts", "teams", "teams_recorded", "scoped_coverage"))
        levels = None
        if "access_levels" in table:
            raw = _names(table["access_levels"], f"{where}.access_levels")
            for level in raw:
                if level not in ACCESS_LEVELS:
                    raise UsageError(f"{where}.access_levels: {level!r} is not an access level; use "
                                     f"{', '.join(ACCESS_LEVELS)}.")
            if not raw:
                raise UsageError(f"{where}.access_levels: choose at least one of {', '.join(ACCESS_LEVELS)}.")
            levels = tuple(level for level in ACCESS_LEVELS if level in raw)
        device_groups = user_groups = None
        if "exclusions" in table:
            exclusions = _table(table["exclusions"], f"{where}.exclusions", ("device_groups", "user_groups"))
            device_groups = _names(exclusions.get("device_groups", []), f"{where}.exclusions.device_groups")
            user_groups = _names(exclusions.get("user_groups", []), f"{where}.exclusions.user_groups")
        contacts = None
        if "contacts" in table:
            contacts = _contacts(table["contacts"], f"{where}.contacts", CONTACT_KINDS)
        answers = cls(
            access_levels=levels,
            access_recorded=_recorded(table.get("access_recorded"), f"{where}.access_recorded"),
            operator_skip_acknowledged=_recorded(table.get("operator_skip_acknowledged"),
                                                 f"{where}.operator_skip_acknowledged"),
            exclusion_device_groups=device_groups, exclusion_user_groups=user_groups, contacts=contacts,
            teams=_bool(table, "teams", where), teams_recorded=_recorded(table.get("teams_recorded"),
                                                                         f"{where}.teams_recorded"),
            scoped_coverage=_bool(table, "scoped_coverage", where))
        if answers.operator_skip_acknowledged is not None and not answers.operator_skipped:
            raise UsageError(f"{where}.operator_skip_acknowledged: only meaningful when access_levels leaves "
                             "out security_operator.")
        return answers

    def to_toml(self) -> str:
        return _toml("mdr", self.to_dict())


@dataclass(frozen=True)
class HuntingOnboarding:
    """Defender Experts Hunting's onboarding today: notification contacts (primary, then backup call
    priority) and who sent the sample notification from the portal, and when."""

    contacts: tuple[Contact, ...] | None = None
    sample_notification: Recorded | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.contacts is not None:
            data["contacts"] = [c.to_dict() for c in self.contacts]
        if self.sample_notification is not None:
            data["sample_notification"] = self.sample_notification.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> HuntingOnboarding:
        table = _table(data, where, ("contacts", "sample_notification"))
        contacts = _contacts(table["contacts"], f"{where}.contacts", HUNTING_PRIORITIES) \
            if "contacts" in table else None
        return cls(contacts=contacts,
                   sample_notification=_recorded(table.get("sample_notification"), f"{where}.sample_notification"))

    def to_toml(self) -> str:
        return _toml("hunting", self.to_dict())


# Sections of the answers file this module parses, and the Answers field each fills.
SECTIONS: dict[str, type[MdrAnswers] | type[HuntingOnboarding]] = {"mdr": MdrAnswers, "hunting": HuntingOnboarding}


def parse_sections(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The values of the ``[mdr]`` / ``[hunting]`` tables present in ``data`` (keyed like :data:`SECTIONS`)."""
    return {name: kind.from_dict(data[name], f"{where}: {name}") for name, kind in SECTIONS.items() if name in data}


# ------------------------------------------------------------------------------------ parsing helpers


def _table(data: Any, where: str, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: must be a table.")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UsageError(f"{where}.{unknown[0]} is not a known key; use {', '.join(known)}.")
    return data


def _bool(table: dict[str, Any], key: str, where: str) -> bool | None:
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        raise UsageError(f"{where}.{key} must be true or false.")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where} must be a non-empty string.")
    if len(value) > MAX_TEXT or any(not ch.isprintable() for ch in value):
        raise UsageError(f"{where} must be at most {MAX_TEXT} printable characters.")
    return value.strip()


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise UsageError(f"{where} must be an array of names.")
    if len(value) > MAX_NAMES:
        raise UsageError(f"{where} holds {len(value)} names; at most {MAX_NAMES}.")
    names = tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))
    if len({n.lower() for n in names}) != len(names):
        raise UsageError(f"{where} names a group twice.")
    return names


def _contacts(value: Any, where: str, kinds: tuple[str, ...]) -> tuple[Contact, ...]:
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise UsageError(f"{where} must be an array of at most {MAX_NAMES} tables ({{ address, for, phone }}).")
    contacts = []
    for i, item in enumerate(value):
        spot = f"{where}[{i}]"
        table = _table(item, spot, ("address", "for", "phone"))
        address = _text(table.get("address"), f"{spot}.address")
        if not is_address(address):
            raise UsageError(f"{spot}.address: {address!r} is not an e-mail address.")
        kind = table.get("for")
        if kind not in kinds:
            raise UsageError(f"{spot}.for must be one of {', '.join(kinds)}.")
        phone = ""
        if "phone" in table:
            phone = _text(table["phone"], f"{spot}.phone")
            if not _PHONE.match(phone):
                raise UsageError(f"{spot}.phone: {phone!r} is not a phone number.")
        contacts.append(Contact(address, kind, phone))
    return tuple(contacts)


def _recorded(value: Any, where: str) -> Recorded | None:
    if value is None:
        return None
    table = _table(value, where, ("by", "at"))
    by = _text(table.get("by"), f"{where}.by")
    return Recorded(by, utc_stamp(table.get("at"), f"{where}.at"))


def _toml(section: str, data: dict[str, Any]) -> str:
    """``data`` (as :meth:`to_dict` gives it) as a TOML table readable by ``from_dict``."""
    if not data:
        return ""
    lines = [f"[{section}]"]
    tables: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and key == "exclusions":
            tables += [f"[{section}.exclusions]", *(f"{k} = {_value(v)}" for k, v in value.items()), ""]
        elif isinstance(value, dict):
            tables += [f"[{section}.{key}]", *(f"{k} = {_value(v)}" for k, v in value.items()), ""]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                tables += [f"[[{section}.{key}]]", *(f"{k} = {_value(v)}" for k, v in item.items()), ""]
        else:
            lines.append(f"{key} = {_value(value)}")
    return "\n".join([*lines, "", *tables])


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped) + '"'

