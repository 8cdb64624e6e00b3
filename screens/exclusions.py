"""MDR's Exclusions step (optional): the device groups and user groups the operator excluded from the
experts' remediation in the portal. The list has no API, so the names are typed and recorded (who,
when); then each is checked live (exclusions.groups): device groups through the devices'
``rbacGroupName``, user groups through Graph ``/groups`` (a security group, not synced from on-premises)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from dex_tui import mdr_choices
from dex_tui.mdr_answers import MdrAnswers, split_names
from screens.live_checks import LiveChecksStep
from screens.text import plain, tenant

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
