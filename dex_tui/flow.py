"""The wizard's steps (from ``assets/flow.toml``), which apply to which service, and the rules for
moving between them: headless, so the UI only renders what this module decides.

Each step is declared once, in the flow file: its screen, the checks it settles, the confirmation it
records (keyed by the step id in the answers), the checks it watches, its gate (what blocks Next), its
demo action and its help. Everything else (the screen registry, the checks an answer affects, the steps
before the session, the review's decisions and next steps) is derived from a :class:`Flow`.

A second edition is a second flow file: ``Flow.load(path)`` reads and validates it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field, replace
from functools import cache
from pathlib import Path
from typing import Any

from dex_tui.answers import OPTIONAL_ROLES, SERVICES, Answers, role_label
from dex_tui.asset_cache import cached_parse
from dex_tui.assets import asset_path
from dex_tui.errors import InternalError
from dex_tui.records import dataclass

_STEP_FIELDS = ("id", "title", "purpose", "services", "help")
_OPTIONAL_FIELDS = ("link", "link_label", "portal_path", "checks", "screen", "watches", "gate", "gate_hint",
                    "confirms", "demo", "next_steps")
_CONFIRM_FIELDS = ("label", "event", "review")
_DEMO_FIELDS = ("action", "label", "hint")
GENERIC_SCREEN = "screens.generic:GenericStepScreen"  # shows a step that names no screen of its own

# The acknowledgement an operator must give before skipping each optional role.
SKIP_ACKNOWLEDGEMENT: dict[str, str] = {role: f"skip_{role}" for role in OPTIONAL_ROLES}


@dataclass(frozen=True)
class Confirms:
    """What the operator confirms on a step (no API can see it): the words the review shows, the audit
    event recorded, and whether the review lists it when not given (``always``) or only once given."""

    label: str
    event: str
    review: str = "always"


@dataclass(frozen=True)
class DemoAction:
    """The portal action a demo run may perform on a step (``DemoControls.perform``), its key's label in
    the footer and the hint the step shows."""

    action: str
    label: str
    hint: str


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
    screen: str = GENERIC_SCREEN  # "module:Class" of the screen that shows it
    watches: tuple[str, ...] = ()  # the checks the step re-reads while it is shown
    gate: str = ""  # what blocks Next: "", "signed_in", "confirmed" or "roles" (see GATES)
    gate_hint: str = ""  # the words of the gate when it blocks ("signed_in", "confirmed")
    confirms: Confirms | None = None
    demo: DemoAction | None = None
    next_steps: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (service, what comes after the wizard)

    def applies_to(self, service: str) -> bool:
        return service in self.services


def _gate_signed_in(step: Step, answers: Answers, signed_in: bool) -> str | None:
    return None if signed_in else step.gate_hint


def _gate_confirmed(step: Step, answers: Answers, signed_in: bool) -> str | None:
    return None if answers.confirmation(step.id) is not None else step.gate_hint


def _gate_roles(step: Step, answers: Answers, signed_in: bool) -> str | None:
    for role in OPTIONAL_ROLES:
        label = role_label(role)
        choice = answers.roles.get(role)
        if choice is None:
            return f"Choose whether to grant {label}."
        if choice is False and SKIP_ACKNOWLEDGEMENT[role] not in answers.acknowledgements:
            return f"Acknowledge what the experts cannot do without {label}, or grant it."
    return None


def _gate_access_levels(step: Step, answers: Answers, signed_in: bool) -> str | None:
    """MDR's Permissions: the access level(s) recorded, and Security Operator left out only with the
    acknowledgement of the managed-response actions the experts then cannot take."""
    mdr = answers.mdr
    if mdr is None or not mdr.access_levels:
        return "Choose the access level(s): Security Reader and/or Security Operator."
    if mdr.operator_skipped and mdr.operator_skip_acknowledged is None:
        return "Acknowledge what the experts cannot do without Security Operator, or grant it."
    return None


Gate = Callable[[Step, Answers, bool], "str | None"]
GATES: dict[str, Gate] = {"signed_in": _gate_signed_in, "confirmed": _gate_confirmed, "roles": _gate_roles,
                          "access_levels": _gate_access_levels}


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or any(not isinstance(item, str) for item in value):
        raise InternalError(f"{where}: must be a list of strings.")
    return tuple(value)


def _table(value: object, fields: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InternalError(f"{where}: must be a table.")
    unknown = sorted(set(value) - set(fields))
    bad = [name for name in fields if name in value and not isinstance(value[name], str)]
    if unknown or bad:
        raise InternalError(f"{where}: unknown {unknown} / not text {bad}.")
    return {str(k): str(v).strip() for k, v in value.items()}


def _step(table: object, where: str) -> Step:
    if not isinstance(table, dict):
        raise InternalError(f"{where}: not a table.")
    missing = [name for name in _STEP_FIELDS if not table.get(name)]
    unknown = sorted(set(table) - set(_STEP_FIELDS) - set(_OPTIONAL_FIELDS))
    if missing or unknown:
        raise InternalError(f"{where}: missing {missing} / unknown {unknown} fields.")
    services = _strings(table["services"], f"{where}: services")
    if not services or any(s not in SERVICES for s in services):
        raise InternalError(f"{where}: services must be a non-empty subset of {SERVICES}.")
    link = str(table.get("link", ""))
    if link and not link.startswith("https://"):
        raise InternalError(f"{where}: link must be an https:// URL.")
    screen = str(table.get("screen", GENERIC_SCREEN))
    if screen.count(":") != 1 or not all(screen.split(":")):
        raise InternalError(f"{where}: screen must be 'module:Class', not {screen!r}.")
    gate = str(table.get("gate", ""))
    if gate and gate not in GATES:
        raise InternalError(f"{where}: gate must be one of {sorted(GATES)}, not {gate!r}.")
    gate_hint = str(table.get("gate_hint", "")).strip()
    if gate in ("signed_in", "confirmed") and not gate_hint:
        raise InternalError(f"{where}: gate {gate!r} needs a gate_hint (what the operator must do).")
    confirms = None
    if "confirms" in table:
        raw = _table(table["confirms"], _CONFIRM_FIELDS, f"{where}: confirms")
        if not raw.get("label") or not raw.get("event") or raw.get("review", "always") not in ("always", "when_given"):
            raise InternalError(f"{where}: confirms needs label and event; review is 'always' or 'when_given'.")
        confirms = Confirms(raw["label"], raw["event"], raw.get("review", "always"))
    if gate == "confirmed" and confirms is None:
        raise InternalError(f"{where}: gate 'confirmed' needs a [step.confirms] table.")
    demo = None
    if "demo" in table:
        raw = _table(table["demo"], _DEMO_FIELDS, f"{where}: demo")
        if not all(raw.get(name) for name in _DEMO_FIELDS):
            raise InternalError(f"{where}: demo needs action, label and hint.")
        demo = DemoAction(raw["action"], raw["label"], raw["hint"])
    next_steps: dict[str, tuple[str, ...]] = {}
    if "next_steps" in table:
        raw_next = table["next_steps"]
        if not isinstance(raw_next, dict) or any(k not in SERVICES for k in raw_next):
            raise InternalError(f"{where}: next_steps must be a table keyed by service.")
        next_steps = {str(k): _strings(v, f"{where}: next_steps.{k}") for k, v in raw_next.items()}
    return Step(id=str(table["id"]), title=str(table["title"]).strip(), purpose=str(table["purpose"]).strip(),
                services=services, help=str(table["help"]).strip(), link=link,
                link_label=str(table.get("link_label", "")).strip(),
                portal_path=str(table.get("portal_path", "")).strip(),
                checks=_strings(table.get("checks", []), f"{where}: checks"), screen=screen,
                watches=_strings(table.get("watches", []), f"{where}: watches"), gate=gate, gate_hint=gate_hint,
                confirms=confirms, demo=demo, next_steps=tuple(next_steps.items()))


class Flow:
    """One edition's ordered steps, validated, and everything derived from them."""

    def __init__(self, steps: tuple[Step, ...], name: str = "flow.toml") -> None:
        if not steps:
            raise InternalError(f"{name}: no [[step]] tables.", next_step="Reinstall dex-tui.")
        ids = [step.id for step in steps]
        if len(set(ids)) != len(ids):
            raise InternalError(f"{name}: duplicate step ids.")
        if sum(1 for step in steps if step.gate == "signed_in") != 1:
            raise InternalError(f"{name}: exactly one step must have gate = \"signed_in\" (the sign-in step).")
        self.name = name
        self.steps = steps
        self._by_id = {step.id: step for step in steps}

    @classmethod
    def load(cls, path: Path) -> Flow:
        """Read and validate a flow file; a broken one is an internal error naming the file and step."""
        try:
            raw_bytes = path.read_bytes()
            data = cached_parse(path, raw_bytes, lambda: _parse_toml(raw_bytes))
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or tomllib.TOMLDecodeError
            raise InternalError(f"The flow file {path} cannot be read: {exc}", next_step="Reinstall dex-tui.") from exc
        raw = data.get("step")
        if not isinstance(raw, list) or not raw:
            raise InternalError(f"{path.name}: no [[step]] tables.", next_step="Reinstall dex-tui.")
        return cls(tuple(_step(table, f"{path.name}: step {n + 1}") for n, table in enumerate(raw)), path.name)

    # -- the steps --

    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    def get(self, step_id: str) -> Step:
        try:
            return self._by_id[step_id]
        except KeyError:
            raise KeyError(step_id) from None

    def first(self) -> str:
        return self.steps[0].id

    def steps_for(self, service: str) -> tuple[Step, ...]:
        """The steps shown for ``service``, in order."""
        return tuple(step for step in self.steps if step.applies_to(service))

    def next_step(self, step_id: str, service: str) -> str | None:
        """The step after ``step_id`` for ``service``; None on the last one."""
        ids = [s.id for s in self.steps_for(service)]
        index = self._position(step_id, service)
        return ids[index + 1] if index + 1 < len(ids) else None

    def previous_step(self, step_id: str, service: str) -> str | None:
        """The step before ``step_id`` for ``service``; None on the first one."""
        ids = [s.id for s in self.steps_for(service)]
        index = self._position(step_id, service)
        return ids[index - 1] if index > 0 else None

    def step_number(self, step_id: str, service: str) -> tuple[int, int]:
        """(1-based position, number of steps) of ``step_id`` in the flow of ``service``."""
        return self._position(step_id, service) + 1, len(self.steps_for(service))

    def _position(self, step_id: str, service: str) -> int:
        """Index of ``step_id`` among the steps of ``service``; a step that does not apply counts as the
        last applicable step before it (so Hunting treats "access" like "license")."""
        order = self.ids()
        if step_id not in order:
            raise KeyError(step_id)
        applicable = [s.id for s in self.steps_for(service)]
        if step_id in applicable:
            return applicable.index(step_id)
        before = [s for s in order[: order.index(step_id)] if s in applicable]
        return applicable.index(before[-1]) if before else 0

    def applicable_step(self, step_id: str, service: str) -> str:
        """``step_id`` when it applies to ``service``, else the next step that does (used on resume and
        when the service changes)."""
        order = self.ids()
        if step_id not in order:
            return self.first()
        applicable = {s.id for s in self.steps_for(service)}
        for candidate in order[order.index(step_id):]:
            if candidate in applicable:
                return candidate
        return self.steps_for(service)[-1].id

    def is_after(self, step_id: str, other: str) -> bool:
        order = self.ids()
        return order.index(step_id) > order.index(other)

    # -- derived from the declarations --

    def sign_in_step(self) -> str:
        """The step whose gate is the sign-in."""
        return next(step.id for step in self.steps if step.gate == "signed_in")

    def steps_before_session(self) -> tuple[str, ...]:
        """The steps up to and including sign-in: they need no session, so a resumed run shows them as is."""
        ids = self.ids()
        return ids[: ids.index(self.sign_in_step()) + 1]

    def roles_step(self) -> str | None:
        """The step where the optional roles are decided (gate ``roles``), if this flow has one."""
        return next((step.id for step in self.steps if step.gate == "roles"), None)

    def confirming_steps(self) -> tuple[Step, ...]:
        """The steps that record a confirmation, in order: the answers hold one per step id."""
        return tuple(step for step in self.steps if step.confirms is not None)

    def answer_checks(self) -> tuple[str, ...]:
        """The checks that read the operator's answers: those the steps settle. They are evaluated
        again (from facts already read) whenever the answers change."""
        seen: dict[str, None] = {}
        for step in self.steps:
            seen.update(dict.fromkeys(step.checks))
        return tuple(seen)

    def step_settling(self, check_id: str, service: str) -> Step | None:
        """The step of ``service``'s flow where the operator settles ``check_id`` (None: no step does)."""
        for step in self.steps_for(service):
            if check_id in step.checks:
                return step
        return None

    def next_steps(self, service: str) -> tuple[str, ...]:
        """What comes after the wizard for ``service`` (the last step's ``next_steps``)."""
        for step in reversed(self.steps):
            found = dict(step.next_steps).get(service)
            if found is not None:
                return found
        return ()

    def leave_blocker(self, step_id: str, answers: Answers, *, signed_in: bool = True) -> str | None:
        """Why the operator cannot go on from ``step_id`` yet, in plain words; None when they can.

        Steps without a gate never block: what Graph cannot see is marked on the review instead, so an
        operator who has not ordered yet can still see the rest of the flow.
        """
        step = self.get(step_id)
        return GATES[step.gate](step, answers, signed_in) if step.gate else None


def _parse_toml(raw: bytes) -> dict[str, Any]:
    import tomllib  # only when the cache has no entry for these bytes

    return tomllib.loads(raw.decode("utf-8"))


@cache
def default_flow() -> Flow:
    """The shipped flow (``assets/flow.toml``), validated: a broken one is an internal error."""
    return Flow.load(asset_path("flow.toml"))


def all_steps() -> tuple[Step, ...]:
    """Every step of the shipped flow in display order."""
    return default_flow().steps


def step_settling(check_id: str, service: str) -> Step | None:
    return default_flow().step_settling(check_id, service)


def step_ids() -> tuple[str, ...]:
    return default_flow().ids()


def get_step(step_id: str) -> Step:
    return default_flow().get(step_id)


def steps_for(service: str) -> tuple[Step, ...]:
    return default_flow().steps_for(service)


def first_step() -> str:
    return default_flow().first()


def next_step(step_id: str, service: str) -> str | None:
    return default_flow().next_step(step_id, service)


def previous_step(step_id: str, service: str) -> str | None:
    return default_flow().previous_step(step_id, service)


def step_number(step_id: str, service: str) -> tuple[int, int]:
    return default_flow().step_number(step_id, service)


def applicable_step(step_id: str, service: str) -> str:
    return default_flow().applicable_step(step_id, service)


def leave_blocker(step_id: str, answers: Answers, *, signed_in: bool = True) -> str | None:
    return default_flow().leave_blocker(step_id, answers, signed_in=signed_in)


def confirmation_keys() -> tuple[str, ...]:
    """The step ids of the shipped flow that record a confirmation (the answers file's tables)."""
    return tuple(step.id for step in default_flow().confirming_steps())


@dataclass(frozen=True)
class FlowState:
    """Where the operator is, what they decided, and which steps they have completed (in ``flow``)."""

    step: str = field(default_factory=first_step)
    answers: Answers = field(default_factory=Answers)
    completed: frozenset[str] = frozenset()
    flow: Flow = field(default_factory=default_flow, compare=False, repr=False)

    def go_next(self, *, signed_in: bool = True) -> FlowState:
        """Move on, marking this step completed; raises ValueError with the reason when blocked."""
        reason = self.flow.leave_blocker(self.step, self.answers, signed_in=signed_in)
        if reason:
            raise ValueError(reason)
        following = self.flow.next_step(self.step, self.answers.service)
        if following is None:
            return replace(self, completed=self.completed | {self.step})
        return replace(self, step=following, completed=self.completed | {self.step})

    def go_back(self) -> FlowState:
        before = self.flow.previous_step(self.step, self.answers.service)
        return self if before is None else replace(self, step=before)

    def with_answers(self, answers: Answers) -> FlowState:
        """New answers; when the service changes, the current step is mapped onto its flow."""
        return replace(self, answers=answers, step=self.flow.applicable_step(self.step, answers.service))
