"""The operator's decisions, one data structure: saved by the wizard as progress and read by
``dex-tui check --answers FILE`` as TOML (format in the README, "Answers file").

One reader for both: :meth:`Answers.from_dict` checks every field, names the key of any problem, cleans
``by`` and ``reason`` like tenant strings (``safety.clean_text``: they reach the terminal and every
report) and normalises every ``at`` to UTC. :func:`load_answers` also refuses what only a hand-written
file can hold: a date in the future, an acknowledgement of skipping a role that is granted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dex_tui import mdr_answers
from dex_tui.errors import UsageError
from dex_tui.mdr_answers import HuntingOnboarding, MdrAnswers
from dex_tui.records import dataclass
from dex_tui.safety import clean_text
from dex_tui.stamps import refuse_future, utc_stamp

SERVICES = ("xdr", "hunting", "mdr")
OPTIONAL_ROLES = ("security_operator", "security_administrator")
ROLE_KEYS = {f"skip_{role}": role for role in OPTIONAL_ROLES}  # acknowledgement key -> the role skipped
ROLES_CHECK = "experts.roles"  # the check a reasoned role skip acknowledges
MAX_REASON = 500
MAX_BY = 200
_ACK_FIELDS = ("by", "at", "reason", "expires")


def role_label(role: str) -> str:
    """An optional role's name in words ("security_operator" -> "Security operator")."""
    return role.replace("_", " ").capitalize()


def _confirmable() -> tuple[str, ...]:
    """The step ids whose confirmation the answers hold: those of the shipped flow (``flow.toml``)."""
    from dex_tui.flow import confirmation_keys  # the flow imports this module

    return confirmation_keys()


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def clean_by(value: str) -> str:
    """Who decided something, as every surface may show it: escapes and invisible characters shown,
    not obeyed (a user principal name is the tenant's string; a file's is anybody's)."""
    return clean_text(value.strip(), MAX_BY)


@dataclass(frozen=True)
class Confirmation:
    """Who confirmed something, and when (ISO 8601, UTC)."""

    by: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "at": self.at}


@dataclass(frozen=True)
class Acknowledgement:
    """One written-down acceptance: of a check's warning (``key`` is the check id) or of skipping a
    role (``key`` is ``skip_<role>``, and it then acknowledges :data:`ROLES_CHECK`).

    ``reason`` and ``expires`` are optional only for a role skip recorded the old way (who and when):
    such a skip is acknowledged, but its warning still counts (``dex_tui.acknowledgements``)."""

    key: str
    by: str
    at: str
    reason: str = ""
    expires: date | None = None

    @property
    def check_id(self) -> str:
        return ROLES_CHECK if self.key in ROLE_KEYS else self.key

    def to_dict(self) -> dict[str, Any]:
        """As the answers, progress file and report hold it (``expires`` as ``YYYY-MM-DD``)."""
        data: dict[str, Any] = {"by": self.by, "at": self.at}
        if self.reason:
            data["reason"] = self.reason
        if self.expires is not None:
            data["expires"] = self.expires.isoformat()
        return data


@dataclass(frozen=True)
class Answers:
    """Everything the operator decided or confirmed in the settings flow.

    ``confirmations`` holds what the operator confirmed, keyed by the id of the step that records it
    (``confirms`` in ``flow.toml``: terms, license, access). ``roles`` maps each optional role to True
    (grant), False (skip) or None (not decided yet); Security reader is always granted and is not stored.
    """

    service: str = "xdr"
    confirmations: Mapping[str, Confirmation] = field(default_factory=dict)
    roles: dict[str, bool | None] = field(default_factory=lambda: dict.fromkeys(OPTIONAL_ROLES))
    acknowledgements: dict[str, Acknowledgement] = field(default_factory=dict)  # by key (check id, skip_<role>)
    mdr: MdrAnswers | None = None  # [mdr]: today's MDR setup (dex_tui.mdr_answers)
    hunting: HuntingOnboarding | None = None  # [hunting]: Hunting's onboarding today

    def confirmation(self, step_id: str) -> Confirmation | None:
        """The operator's confirmation recorded on step ``step_id`` (None: not given)."""
        return self.confirmations.get(step_id)

    def confirmed(self, step_id: str, confirmation: Confirmation) -> Answers:
        """These answers with ``confirmation`` recorded for step ``step_id``."""
        return replace(self, confirmations={**self.confirmations, step_id: confirmation})

    def _ordered_confirmations(self) -> list[tuple[str, Confirmation]]:
        """The confirmations in flow order (the files read the same whatever order they were given in)."""
        order = {name: n for n, name in enumerate(_confirmable())}
        return sorted(self.confirmations.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))

    @property
    def terms(self) -> Confirmation | None:
        return self.confirmations.get("terms")

    @property
    def license(self) -> Confirmation | None:
        return self.confirmations.get("license")

    @property
    def access(self) -> Confirmation | None:
        return self.confirmations.get("access")

    def skipped_roles(self) -> list[str]:
        return [role for role in OPTIONAL_ROLES if self.roles.get(role) is False]

    def with_role(self, role: str, granted: bool | None) -> Answers:
        roles = dict(self.roles)
        roles[role] = granted
        return replace(self, roles=roles)

    def acknowledged(self, acknowledgement: Acknowledgement) -> Answers:
        """These answers with ``acknowledgement`` recorded (replacing one of the same key)."""
        return replace(self, acknowledgements={**self.acknowledgements, acknowledgement.key: acknowledgement})

    def without_acknowledgement(self, key: str) -> Answers:
        return replace(self, acknowledgements={k: v for k, v in self.acknowledgements.items() if k != key})

    def waivers(self) -> list[Acknowledgement]:
        """The acknowledgements that may waive a check (those with a reason), for
        ``acknowledgements.evaluate``."""
        return [ack for ack in self.acknowledgements.values() if ack.reason]

    def stamps(self) -> Iterator[tuple[str, str]]:
        """(dotted key, stamp) of every recorded ``at``, for the checks an answers file gets."""
        for name, confirmation in self._ordered_confirmations():
            yield f"{name}.at", confirmation.at
        for key, ack in self.acknowledgements.items():
            yield f"acknowledgements.{_toml_key(key)}.at", ack.at
        if self.mdr is not None:
            for name in ("access_recorded", "operator_skip_acknowledged", "teams_recorded"):
                recorded = getattr(self.mdr, name)
                if recorded is not None:
                    yield f"mdr.{name}.at", recorded.at
        if self.hunting is not None and self.hunting.sample_notification is not None:
            yield "hunting.sample_notification.at", self.hunting.sample_notification.at

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"service": self.service}
        for name, value in self._ordered_confirmations():
            data[name] = value.to_dict()
        data["roles"] = {k: v for k, v in self.roles.items() if v is not None}
        data["acknowledgements"] = {k: v.to_dict() for k, v in self.acknowledgements.items()}
        data.update({name: getattr(self, name).to_dict() for name in mdr_answers.SECTIONS
                     if getattr(self, name) is not None})
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "answers",
                  confirmable: Iterable[str] | None = None) -> Answers:
        """Build from parsed TOML/JSON, naming the file and field of any problem. ``confirmable``: the
        step ids that record a confirmation (default: the shipped flow's)."""
        if not isinstance(data, dict):
            raise UsageError(f"{where}: expected a table of answers.")
        names = tuple(_confirmable() if confirmable is None else confirmable)
        unknown = sorted(set(data) - {"service", "roles", "acknowledgements", *names, *mdr_answers.SECTIONS})
        if unknown:
            raise UsageError(f"{where}: unknown field {unknown[0]!r}.")
        service = data.get("service", "xdr")
        if service not in SERVICES:
            raise UsageError(f"{where}: service must be one of {', '.join(SERVICES)}, not {service!r}.")
        confirmations = {name: found for name in names
                         if (found := _confirmation(data.get(name), f"{where}: {name}")) is not None}
        roles_raw = data.get("roles", {})
        if not isinstance(roles_raw, dict):
            raise UsageError(f"{where}: roles must be a table.")
        roles: dict[str, bool | None] = dict.fromkeys(OPTIONAL_ROLES)
        for key, value in roles_raw.items():
            if key == "security_reader":
                if value is not True:
                    raise UsageError(f"{where}: roles.security_reader is required and cannot be false.")
                continue
            if key not in OPTIONAL_ROLES:
                raise UsageError(f"{where}: roles.{key} is not a role; use {', '.join(OPTIONAL_ROLES)}.")
            if not isinstance(value, bool):
                raise UsageError(f"{where}: roles.{key} must be true or false.")
            roles[key] = value
        acks_raw = data.get("acknowledgements", {})
        if not isinstance(acks_raw, dict):
            raise UsageError(f"{where}: acknowledgements must be a table.")
        acks = {key: _acknowledgement(key, value, f"{where}: acknowledgements.{_toml_key(key)}")
                for key, value in acks_raw.items()}
        for key in acks:
            if key in ROLE_KEYS and roles[ROLE_KEYS[key]] is True:
                raise UsageError(f"{where}: acknowledgements.{key} acknowledges skipping "
                                 f"{role_label(ROLE_KEYS[key])}, but roles.{ROLE_KEYS[key]} = true grants it; "
                                 "remove one of the two.")
        sections = mdr_answers.parse_sections(data, where)
        return cls(service=service, confirmations=confirmations, roles=roles, acknowledgements=acks,
                   mdr=sections.get("mdr"), hunting=sections.get("hunting"))

    def to_toml(self) -> str:
        """The answers as TOML, readable by :func:`load_answers`."""
        lines = [f"service = {_toml_str(self.service)}", ""]
        for name, value in self._ordered_confirmations():
            lines += [f"[{name}]", f"by = {_toml_str(value.by)}", f"at = {_toml_str(value.at)}", ""]
        lines.append("[roles]")
        lines.append("security_reader = true")
        for role, granted in self.roles.items():
            if granted is not None:
                lines.append(f"{role} = {'true' if granted else 'false'}")
        lines.append("")
        for key, ack in self.acknowledgements.items():
            lines += [f"[acknowledgements.{_toml_key(key)}]", f"by = {_toml_str(ack.by)}", f"at = {_toml_str(ack.at)}"]
            if ack.reason:
                lines.append(f"reason = {_toml_str(ack.reason)}")
            if ack.expires is not None:
                lines.append(f"expires = {ack.expires.isoformat()}")
            lines.append("")
        lines += [getattr(self, name).to_toml() for name in mdr_answers.SECTIONS if getattr(self, name) is not None]
        return "\n".join(lines)


def _confirmation(value: Any, where: str) -> Confirmation | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("by"), str) or not value["by"].strip():
        raise UsageError(f"{where}: needs 'by' (who confirmed) and 'at' (when, ISO 8601 UTC).")
    return Confirmation(by=clean_by(value["by"]), at=utc_stamp(value.get("at"), f"{where}: 'at'"))


def _acknowledgement(key: str, value: Any, where: str) -> Acknowledgement:
    """One entry of the ``acknowledgements`` table, by check id or ``skip_<role>``."""
    from dex_tui.catalogue import ALL_CHECK_IDS  # the catalogue imports this module

    if key not in ROLE_KEYS and key not in ALL_CHECK_IDS:
        raise UsageError(f"{where} is neither a check id nor a role skip; use a check id from the README "
                         f"('Checks') or {', '.join(ROLE_KEYS)}.")
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a table with by, at, reason and optionally expires.")
    unknown = sorted(set(value) - set(_ACK_FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r}.")
    by = value.get("by")
    if not isinstance(by, str) or not by.strip():
        raise UsageError(f"{where}: needs 'by' (who acknowledged).")
    if value.get("at") is None:
        raise UsageError(f"{where}: needs 'at' (when, ISO 8601 UTC, e.g. 2026-11-24T10:00:00Z).")
    at = utc_stamp(value["at"], f"{where}: 'at'")
    reason = value.get("reason")
    if reason is None and key in ROLE_KEYS:
        if "expires" in value:
            raise UsageError(f"{where}: 'expires' needs a 'reason' (why the skip is accepted).")
        return Acknowledgement(key, clean_by(by), at)
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError(f"{where}: needs a 'reason' (why the deviation is accepted).")
    if len(reason) > MAX_REASON:
        raise UsageError(f"{where}: the reason is longer than {MAX_REASON} characters.")
    return Acknowledgement(key, clean_by(by), at, clean_text(reason.strip(), MAX_REASON * 10),
                           expiry_date(value.get("expires"), where))


def expiry_date(value: Any, where: str) -> date | None:
    """An acknowledgement's ``expires``: a TOML date or ``YYYY-MM-DD`` (a date-time counts by its UTC day)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{where}: 'expires' must be a date, e.g. 2026-12-31.")


def _toml_key(key: str) -> str:
    """A key as a TOML table name: check ids hold dots, so they are quoted."""
    return key if key.replace("_", "").isalnum() else _toml_str(key)


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'


def load_answers(path: Path, *, now: datetime | None = None) -> Answers:
    """Read an answers file (at most 1 MiB); every problem is a UsageError naming the file and the key.

    Beyond :meth:`Answers.from_dict`, a recorded ``at`` later than ``now`` (default: the wall clock,
    allowing a few minutes of clock difference) is refused, naming its key and line."""
    from dex_tui.tomlfile import load_toml

    parsed = load_toml(path, "answers file", not_a="an answers file")
    answers = Answers.from_dict(parsed.data, where=parsed.name)
    moment = now or datetime.now(UTC)
    for key, stamp in answers.stamps():
        refuse_future(stamp, parsed.where(key.replace('"', "")) + f": {key}", moment)
    return answers
