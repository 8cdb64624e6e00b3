"""The MDR Exclusions step's picker: the tenant's device groups and security groups, read live, to tick
the ones excluded in the portal. It only fills the step's fields (the operator then records them);
Esc or Cancel changes nothing. Groups synced from on-premises are listed but cannot be ticked (on-premises
users cannot be excluded)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Label, Static

from dex_tui.mdr_candidates import Candidate, ExclusionCandidates
from screens.text import plain, tenant
from screens.toggles import TickBox

Picked = tuple[tuple[str, ...], tuple[str, ...]]  # device groups, user groups
MAX_SHOWN = 200  # per list: a tick box each; the others are typed in the step's field


class GroupBox(TickBox):
    """A tick box for one group; ``group_name`` is the name as the tenant spells it."""

    def __init__(self, candidate: Candidate, kind: str, number: int, ticked: bool) -> None:
        label = tenant(candidate.name, limit=120) + plain(f"  ({candidate.note})" if candidate.note else "",
                                                          style="dim")
        super().__init__(label, value=ticked and candidate.pickable, disabled=not candidate.pickable,
                         id=f"pick-{kind}-{number}", classes=f"pick-{kind}", compact=True)
        self.group_name = candidate.name


def _boxes(kind: str, candidates: tuple[Candidate, ...], chosen: tuple[str, ...], empty: str) -> list[Widget]:
    """One tick box per group (a mark only when ticked, so it reads without colour), or ``empty``."""
    wanted = {name.lower() for name in chosen}
    boxes: list[Widget] = [GroupBox(c, kind, n, c.name.lower() in wanted) for n, c in enumerate(candidates[:MAX_SHOWN])]
    return boxes or [Static(plain(empty, style="italic"))]


class GroupPickerDialog(ModalScreen[Picked | None]):
    """Dismisses with the ticked names (plus typed names the tenant did not list), or None (cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]
    DEFAULT_CSS = """
    GroupPickerDialog #picker-lists { height: auto; max-height: 16; }
    GroupPickerDialog #picker-notes { color: $warning; height: auto; }
    """

    def __init__(self, candidates: ExclusionCandidates, devices: tuple[str, ...], users: tuple[str, ...]) -> None:
        super().__init__(classes="dialog")
        self.candidates = candidates
        self.devices = devices
        self.users = users

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static("Pick the excluded groups", classes="dialog-title")
            with VerticalScroll(id="picker-lists"):
                yield Label("Device groups (Defender for Endpoint)", classes="field-label")
                yield from _boxes("device_groups", self.candidates.device_groups, self.devices,
                                  "No device group seen on the tenant's devices.")
                yield Label("User groups (Entra security groups)", classes="field-label")
                yield from _boxes("user_groups", self.candidates.user_groups, self.users, "No security group found.")
            notes = list(self.candidates.notes)
            for kind, listed in (("device groups", self.candidates.device_groups),
                                 ("security groups", self.candidates.user_groups)):
                if len(listed) > MAX_SHOWN:
                    notes.append(f"{len(listed) - MAX_SHOWN} more {kind} are not listed: type their names.")
            yield Static(plain("\n".join(notes)), id="picker-notes")
            yield Static("Space ticks a group, Tab moves on; Esc cancels.", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="picker-cancel", compact=True)
                yield Button("Use these", id="picker-use", variant="primary", compact=True)

    def on_mount(self) -> None:
        enabled = [box for box in self.query(GroupBox) if not box.disabled]
        if enabled:
            enabled[0].focus()

    def _picked(self, kind: str, listed: tuple[Candidate, ...], typed: tuple[str, ...]) -> tuple[str, ...]:
        ticked = [box.group_name for box in self.query(f".pick-{kind}").results(GroupBox) if box.value]
        known = {c.name.lower() for c in listed[:MAX_SHOWN]}
        kept = [name for name in typed if name.lower() not in known]  # typed, not listed: the operator's to keep
        return tuple(dict.fromkeys([*ticked, *kept]))

    @on(Button.Pressed, "#picker-use")
    def _use(self) -> None:
        self.dismiss((self._picked("device_groups", self.candidates.device_groups, self.devices),
                      self._picked("user_groups", self.candidates.user_groups, self.users)))

    @on(Button.Pressed, "#picker-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
