"""The wizard's steps (from ``assets/flow.toml``), which apply to which service, and the rules for
moving between them: headless, so the UI only renders what this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from dex_tui.answers import OPTIONAL_ROLES, SERVICES, Answers
from dex_tui.assets import load_toml_asset
from dex_tui.errors import InternalError

_STEP_FIELDS = ("id", "title", "purpose", "services", "help")
_OPTIONAL_FIELDS = ("link", "link_label", "portal_path", "checks")

# The acknowledgement an operator must give before skipping each optional role.
SKIP_ACKNOWLEDGEMENT: dict[str, str] = {role: f"skip_{role}" for role in OPTIONAL_ROLES}


@dataclass(frozen=True)
class Step:
    """One wizard step: its id, title, one-sentence purpose, help (Markdown) and services, and for the
    steps done in a portal, where (``portal_path``) and a link to it."""

    id: str
    title: str
    purpose: str
    services: tuple[str, ...]
    help: str
    link: str = ""
    link_label: str = ""
    portal_path: str = ""
    checks: tuple[str, ...] = ()  # the checks this step settles (shown as "done in step X" before it)

    def applies_to(self, service: str) -> bool:
        return service in self.services


@cache
def all_steps() -> tuple[Step, ...]:
    """Every step in display order, validated: a broken ``flow.toml`` is an internal error."""
    raw = load_toml_asset("flow.toml").get("step")
    if not isinstance(raw, list) or not raw:
        raise InternalError("flow.toml: no [[step]] tables.", next_step="Reinstall dex-tui.")
    steps: list[Step] = []
    for index, table in enumerate(raw):
        where = f"flow.toml: step {index + 1}"
        if not isinstance(table, dict):
            raise InternalError(f"{where}: not a table.")
        missing = [name for name in _STEP_FIELDS if not table.get(name)]
        unknown = sorted(set(table) - set(_STEP_FIELDS) - set(_OPTIONAL_FIELDS))
        if missing or unknown:
            raise InternalError(f"{where}: missing {missing} / unknown {unknown} fields.")
        services = tuple(table["services"])
        if not services or any(s not in SERVICES for s in services):
            raise InternalError(f"{where}: services must be a non-empty subset of {SERVICES}.")
        link = str(table.get("link", ""))
        if link and not link.startswith("https://"):
            raise InternalError(f"{where}: link must be an https:// URL.")
        steps.append(Step(id=str(table["id"]), title=str(table["title"]).strip(),
                          purpose=str(table["purpose"]).strip(), services=services,
                          help=str(table["help"]).strip(), link=link,
                          link_label=str(table.get("link_label", "")).strip(),
                          portal_path=str(table.get("portal_path", "")).strip(),
                          checks=tuple(str(c) for c in table.get("checks", ()))))
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids):
        raise InternalError("flow.toml: duplicate step ids.")
    return tuple(steps)


def step_settling(check_id: str, service: str) -> Step | None:
    """The step of ``service``'s flow where the operator settles ``check_id`` (None: no step does)."""
    for step in steps_for(service):
        if check_id in step.checks:
            return step
    return None


def step_ids() -> tuple[str, ...]:
    return tuple(step.id for step in all_steps())


def get_step(step_id: str) -> Step:
    for step in all_steps():
        if step.id == step_id:
            return step
    raise KeyError(step_id)


def steps_for(service: str) -> tuple[Step, ...]:
    """The steps shown for ``service``, in order."""
    return tuple(step for step in all_steps() if step.applies_to(service))


def first_step() -> str:
    return all_steps()[0].id


def next_step(step_id: str, service: str) -> str | None:
    """The step after ``step_id`` for ``service``; None on the last one."""
    ids = [s.id for s in steps_for(service)]
    index = _position(step_id, service)
    return ids[index + 1] if index + 1 < len(ids) else None


def previous_step(step_id: str, service: str) -> str | None:
    """The step before ``step_id`` for ``service``; None on the first one."""
    ids = [s.id for s in steps_for(service)]
    index = _position(step_id, service)
    return ids[index - 1] if index > 0 else None


def step_number(step_id: str, service: str) -> tuple[int, int]:
    """(1-based position, number of steps) of ``step_id`` in the flow of ``service``."""
    return _position(step_id, service) + 1, len(steps_for(service))


def _position(step_id: str, service: str) -> int:
    """Index of ``step_id`` among the steps of ``service``; a step that does not apply counts as the
    last applicable step before it (so Hunting treats "access" like "license")."""
    order = step_ids()
    if step_id not in order:
        raise KeyError(step_id)
    applicable = [s.id for s in steps_for(service)]
    if step_id in applicable:
        return applicable.index(step_id)
    before = [s for s in order[: order.index(step_id)] if s in applicable]
    return applicable.index(before[-1]) if before else 0


def applicable_step(step_id: str, service: str) -> str:
    """``step_id`` when it applies to ``service``, else the next step that does (used on resume and
    when the service changes)."""
    order = step_ids()
    if step_id not in order:
        return first_step()
    applicable = {s.id for s in steps_for(service)}
    for candidate in order[order.index(step_id):]:
        if candidate in applicable:
            return candidate
    return steps_for(service)[-1].id


def leave_blocker(step_id: str, answers: Answers, *, signed_in: bool = True) -> str | None:
    """Why the operator cannot go on from ``step_id`` yet, in plain words; None when they can.

    The licence and access steps never block: what Graph cannot see is marked on the review
    instead, so an operator who has not ordered yet can still see the rest of the flow.
    """
    if step_id == "signin" and not signed_in:
        return "Sign in first: the next steps read your tenant."
    if step_id == "terms" and answers.terms is None:
        return "Scroll to the end of the summary and select Accept to go on."
    if step_id == "permissions":
        for role in OPTIONAL_ROLES:
            label = role.replace("_", " ").capitalize()
            choice = answers.roles.get(role)
            if choice is None:
                return f"Choose whether to grant {label}."
            if choice is False and SKIP_ACKNOWLEDGEMENT[role] not in answers.acknowledgements:
                return f"Acknowledge what the experts cannot do without {label}, or grant it."
    return None


@dataclass(frozen=True)
class FlowState:
    """Where the operator is, what they decided, and which steps they have completed."""

    step: str = field(default_factory=first_step)
    answers: Answers = field(default_factory=Answers)
    completed: frozenset[str] = frozenset()

    def go_next(self, *, signed_in: bool = True) -> FlowState:
        """Move on, marking this step completed; raises ValueError with the reason when blocked."""
        reason = leave_blocker(self.step, self.answers, signed_in=signed_in)
        if reason:
            raise ValueError(reason)
        following = next_step(self.step, self.answers.service)
        if following is None:
            return replace(self, completed=self.completed | {self.step})
        return replace(self, step=following, completed=self.completed | {self.step})

    def go_back(self) -> FlowState:
        before = previous_step(self.step, self.answers.service)
        return self if before is None else replace(self, step=before)

    def with_answers(self, answers: Answers) -> FlowState:
        """New answers; when the service changes, the current step is mapped onto its flow."""
        return replace(self, answers=answers, step=applicable_step(self.step, answers.service))
