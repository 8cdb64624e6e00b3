"""MDR's Exclusions step (optional): the device groups and user groups the operator excluded from the
experts' remediation in the portal. The list has no API, so the names are typed and recorded (who,
when); then each is checked live (exclusions.groups): device groups through the devices'
``rbacGroupName``, user groups through Graph ``/groups`` (a security group, not synced from on-premises)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static
from textual.worker import get_current_worker

from dex_tui import mdr_choices
from dex_tui.errors import Interrupted
from dex_tui.mdr_answers import MdrAnswers, split_names
from dex_tui.mdr_candidates import ExclusionCandidates
from screens.group_picker import GroupPickerDialog, Picked
from screens.live_checks import LiveChecksStep
from screens.messages import WorkerFailed
from screens.text import plain, tenant
from screens.workers import as_dex_error


class CandidatesRead(Message):
    """The tenant's groups to pick from were read (a worker posts it)."""

    def __init__(self, candidates: ExclusionCandidates) -> None:
        super().__init__()
        self.candidates = candidates

FIELDS = (("device_groups", "Device groups (Defender for Endpoint), separated by commas", "e.g. Servers, Domain controllers"),
          ("user_groups", "User groups (Entra security groups), separated by commas", "e.g. VIP Executives"))


class ExclusionsScreen(LiveChecksStep):
    STEP_ID = "mdr_exclusions"
    DEFAULT_CSS = """
    ExclusionsScreen #exclusions-error { color: $error; text-style: bold; height: auto; }
    ExclusionsScreen #exclusions-buttons { height: 1; margin-top: 1; }
    ExclusionsScreen #exclusions-buttons Button { margin-right: 2; }
    """

    def compose_body(self) -> ComposeResult:
        mdr = self.wizard.flow.answers.mdr or MdrAnswers()
        recorded = {"device_groups": mdr.exclusion_device_groups or (), "user_groups": mdr.exclusion_user_groups or ()}
        with VerticalScroll(id="exclusions-scroll"):
            yield self.portal_line()
            for key, label, hint in FIELDS:
                yield Label(label, classes="field-label")
                yield Input(value=", ".join(recorded[key]), placeholder=hint, id=f"exclusions-{key}",
                            classes="exclusion-field", compact=True)
            yield Static("", id="exclusions-error")
            with Horizontal(id="exclusions-buttons"):
                yield Button("Pick from the tenant", id="pick-groups", compact=True)
                yield Button("Record exclusions", id="record-exclusions", compact=True)
                yield Button("No exclusions", id="no-exclusions", compact=True)
            yield Static("", id="exclusions-recorded")
            yield from self.compose_rows()

    def on_mount(self) -> None:
        super().on_mount()
        for field in self.query(Input):
            field.cursor_blink = False

    def rows_changed(self) -> None:
        confirmed = self.wizard.flow.answers.confirmation(self.STEP_ID)
        mdr = self.wizard.flow.answers.mdr
        widget = self.query_one("#exclusions-recorded", Static)
        if confirmed is None or mdr is None:
            widget.update(plain("Nothing recorded: this step is optional.", style="italic"))
            return
        devices, users = mdr.exclusion_device_groups or (), mdr.exclusion_user_groups or ()
        text = plain(f"✔ Recorded by {confirmed.by} at {confirmed.at}: ", style="bold")
        if not devices and not users:
            text.append_text(plain("no exclusions."))
        else:
            text.append_text(plain(f"{len(devices)} device group(s), {len(users)} user group(s)"))
            for name in (*devices, *users):
                text.append_text(plain("\n  ") + tenant(name))
        widget.update(text)

    @on(Input.Submitted, ".exclusion-field")
    @on(Button.Pressed, "#record-exclusions")
    def _record(self) -> None:
        chosen: dict[str, tuple[str, ...]] = {}
        for key, label, _ in FIELDS:
            names, problem = split_names(self.query_one(f"#exclusions-{key}", Input).value)
            if problem is not None:
                self.query_one("#exclusions-error", Static).update(plain(f"Not recorded. {label.split(' (')[0]}: "
                                                                         f"{problem}"))
                self.query_one(f"#exclusions-{key}", Input).focus()
                return
            chosen[key] = names
        self._save(chosen["device_groups"], chosen["user_groups"])

    @on(Button.Pressed, "#no-exclusions")
    def _none(self) -> None:
        for key, _, _ in FIELDS:
            self.query_one(f"#exclusions-{key}", Input).value = ""
        self._save((), ())

    def _save(self, devices: tuple[str, ...], users: tuple[str, ...]) -> None:
        self.query_one("#exclusions-error", Static).update("")
        self.wizard.record_choice(self.STEP_ID, mdr_choices.exclusions(devices, users), device_groups=list(devices),
                                  user_groups=list(users))
        self.rows_changed()
        if self.wizard.session is not None:
            self.start_watch()  # the names are new: read the groups again
        self.query_one("#next").focus()

    @on(Button.Pressed, "#pick-groups")
    def _pick(self) -> None:
        """Read the tenant's device groups and security groups (a worker), then open the picker."""
        if self.wizard.session is None:
            self.notify("Sign in first: the groups are read from your tenant.", severity="warning", markup=False)
            return
        self.query_one("#exclusions-error", Static).update(plain("Reading your tenant's groups…", style="italic"))
        self._read_candidates()

    @work(thread=True, exclusive=True, exit_on_error=False, group="candidates")
    def _read_candidates(self) -> None:
        worker = get_current_worker()
        try:
            candidates = self.wizard.core.exclusion_candidates(is_cancelled=lambda: worker.is_cancelled)
        except Interrupted:
            return
        except Exception as exc:  # every failure goes to the error dialog
            if not worker.is_cancelled:
                self.post_message(WorkerFailed(as_dex_error(exc), "candidates"))
            return
        self.post_message(CandidatesRead(candidates))

    @on(CandidatesRead)
    def _candidates_read(self, message: CandidatesRead) -> None:
        self.query_one("#exclusions-error", Static).update("")
        typed = {key: split_names(self.query_one(f"#exclusions-{key}", Input).value)[0] for key, _, _ in FIELDS}

        def picked(choice: Picked | None) -> None:
            if choice is None:
                return  # cancelled: the fields stay as they were
            for (key, _, _), names in zip(FIELDS, choice, strict=True):
                self.query_one(f"#exclusions-{key}", Input).value = ", ".join(names)
            self.query_one("#record-exclusions", Button).focus()

        self.app.push_screen(GroupPickerDialog(message.candidates, typed["device_groups"], typed["user_groups"]),
                             picked)

    @on(WorkerFailed)
    def _candidates_failed(self, message: WorkerFailed) -> None:
        if message.group != "candidates":
            return
        message.stop()
        self.query_one("#exclusions-error", Static).update(plain("The groups could not be read; type the names."))
        self.wizard.show_error(message.error)
