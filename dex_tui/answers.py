"""The operator's decisions, one data structure: saved by the wizard as progress and read by
``dex-tui check --answers FILE`` as TOML (format in the README, "Answers file").
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dex_tui import mdr_answers
from dex_tui.errors import UsageError
from dex_tui.localfiles import TooLarge, read_bounded
from dex_tui.mdr_answers import HuntingOnboarding, MdrAnswers

SERVICES = ("xdr", "hunting", "mdr")
OPTIONAL_ROLES = ("security_operator", "security_administrator")
ACKNOWLEDGEMENTS = tuple(f"skip_{role}" for role in OPTIONAL_ROLES)


def role_label(role: str) -> str:
    """An optional role's name in words ("security_operator" -> "Security operator")."""
    return role.replace("_", " ").capitalize()


def _confirmable() -> tuple[str, ...]:
    """The step ids whose confirmation the answers hold: those of the shipped flow (``flow.toml``)."""
    from dex_tui.flow import confirmation_keys  # the flow imports this module

    return confirmation_keys()


def utc_now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Confirmation:
    """Who confirmed something, and when (ISO 8601, UTC)."""

    by: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "at": self.at}


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
    acknowledgements: dict[str, Confirmation] = field(default_factory=dict)
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
        acks: dict[str, Confirmation] = {}
        for key, value in acks_raw.items():
            if key not in ACKNOWLEDGEMENTS:
                raise UsageError(f"{where}: acknowledgements.{key} is unknown; use {', '.join(ACKNOWLEDGEMENTS)}.")
            confirmation = _confirmation(value, f"{where}: acknowledgements.{key}")
            if confirmation is not None:
                acks[key] = confirmation
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
        for key, value in self.acknowledgements.items():
            lines += [f"[acknowledgements.{key}]", f"by = {_toml_str(value.by)}", f"at = {_toml_str(value.at)}", ""]
        lines += [getattr(self, name).to_toml() for name in mdr_answers.SECTIONS if getattr(self, name) is not None]
        return "\n".join(lines)


def _confirmation(value: Any, where: str) -> Confirmation | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("by"), str) or not value.get("by"):
        raise UsageError(f"{where}: needs 'by' (who confirmed) and 'at' (when, ISO 8601 UTC).")
    at = value.get("at")
    if isinstance(at, datetime):
        at = at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if not isinstance(at, str):
        raise UsageError(f"{where}: 'at' must be a date and time, e.g. 2026-11-24T10:00:00Z.")
    try:
        datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{where}: 'at' = {at!r} is not an ISO 8601 date and time.") from exc
    return Confirmation(by=value["by"], at=at)


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'


def load_answers(path: Path) -> Answers:
    """Read an answers file (at most 1 MiB); every problem is a UsageError naming the file and the field."""
    try:
        data = tomllib.loads(read_bounded(path).decode("utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"answers file {str(path)!r} does not exist.") from exc
    except TooLarge as exc:
        raise UsageError(f"answers file {str(path)!r} is {exc.strerror}; it is not an answers file.") from None
    except OSError as exc:
        raise UsageError(f"answers file {str(path)!r} cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"answers file {str(path)!r} is not UTF-8 text.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"answers file {str(path)!r} is not valid TOML: {exc}.") from exc
    return Answers.from_dict(data, where=f"answers file {str(path)!r}")
