"""The notification contacts of today's flows, which no API shows: MDR's Contacts step (incident
notification and service review contacts) and Hunting's (primary, then backup). The operator types
the addresses added in the portal; they are recorded only when every one has an address's shape."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Button, Input, Label, Static

from dex_tui import mdr_choices
from dex_tui.mdr_answers import Contact, split_addresses
from screens.base import StepScreen
from screens.text import plain, tenant


class ContactsStep(StepScreen):
    """One address field per kind of contact (``KINDS``: kind, label, hint); ``REQUIRED`` is the kind
    that needs at least one address; ``SINGLE`` the kinds that take one address only."""

    KINDS: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    REQUIRED: ClassVar[str] = ""
    SINGLE: ClassVar[frozenset[str]] = frozenset()
    BINDINGS = [Binding("o", "open_portal", "Open portal", id="contacts.open")]
    DEFAULT_CSS = """
    ContactsStep .contact-field { margin-bottom: 0; }
    ContactsStep #contacts-error { color: $error; text-style: bold; height: auto; }
    """

    def compose_body(self) -> ComposeResult:
        step = self.step
        recorded = self.recorded() or ()
        with VerticalScroll(id="contacts-scroll"):
            yield Static(plain(f"In the {step.link_label}: ", style="bold") + plain(step.portal_path),
                         classes="step-text")
            for kind, label, hint in self.KINDS:
                yield Label(label, classes="field-label")
                value = ", ".join(c.address for c in recorded if c.kind == kind)
                yield Input(value=value, placeholder=hint, id=f"contacts-{kind}", classes="contact-field",
                            compact=True)
            yield Static("", id="contacts-error")
            yield Button("Record contacts", id="record-contacts", compact=True)
            yield Static("", id="contacts-recorded")

    def on_mount(self) -> None:
        super().on_mount()
        for field in self.query(Input):
            field.cursor_blink = False
        self._show_recorded()

    def recorded(self) -> tuple[Contact, ...] | None:
        """The contacts recorded so far for this step's service (None: none recorded)."""
        raise NotImplementedError

    def change(self, contacts: tuple[Contact, ...]) -> mdr_choices.Change:
        """How recording ``contacts`` changes the answers."""
        raise NotImplementedError

    def _show_recorded(self) -> None:
        confirmed = self.wizard.flow.answers.confirmation(self.STEP_ID)
        contacts = self.recorded()
        line = self.query_one("#contacts-recorded", Static)
        if confirmed is None or contacts is None:
            line.update(plain("Nothing recorded yet.", style="italic"))
            return
        labels = {kind: label.split(" (")[0] for kind, label, _ in self.KINDS}
        text = plain(f"✔ Recorded by {confirmed.by} at {confirmed.at}:", style="bold")
        for contact in contacts:
            text.append_text(plain(f"\n  {labels.get(contact.kind, contact.kind)}: ") + tenant(contact.address))
        line.update(text)

    def _typed(self) -> tuple[tuple[Contact, ...] | None, str | None, str]:
        """What the fields hold: the contacts, or the problem in words and the field to fix."""
        contacts: list[Contact] = []
        for kind, label, _ in self.KINDS:
            addresses, problem = split_addresses(self.query_one(f"#contacts-{kind}", Input).value)
            if problem is None and kind in self.SINGLE and len(addresses) > 1:
                problem = "one address only here (put the others under the backup contacts)."
            if problem is None and kind == self.REQUIRED and not addresses:
                problem = "at least one address is needed."
            if problem is not None:
                return None, f"{label}: {problem}", kind
            contacts += [Contact(address, kind) for address in addresses]
        return tuple(contacts), None, ""

    @on(Input.Submitted, ".contact-field")
    @on(Button.Pressed, "#record-contacts")
    def _record(self) -> None:
        contacts, problem, field = self._typed()
        error = self.query_one("#contacts-error", Static)
        if contacts is None:
            error.update(plain(f"Not recorded. {problem}"))
            self.query_one(f"#contacts-{field}", Input).focus()
            return
        error.update("")
        self.wizard.record_choice(self.STEP_ID, self.change(contacts),
                                  contacts=[c.to_dict() for c in contacts])
        self._show_recorded()
        self.query_one("#next").focus()

    def action_open_portal(self) -> None:
        self.app.open_url(self.step.link)


class MdrContactsScreen(ContactsStep):
    STEP_ID = "mdr_contacts"
    KINDS = (("incident_notification", "Incident notification contacts (reachable at all times)",
              "e.g. soc@contoso.com, oncall@contoso.com"),
             ("service_review", "Service review contacts", "e.g. security-lead@contoso.com"))
    REQUIRED = "incident_notification"

    def recorded(self) -> tuple[Contact, ...] | None:
        mdr = self.wizard.flow.answers.mdr
        return mdr.contacts if mdr is not None else None

    def change(self, contacts: tuple[Contact, ...]) -> mdr_choices.Change:
        return mdr_choices.mdr_contacts(contacts)


class HuntingContactsScreen(ContactsStep):
    STEP_ID = "hunting_contacts"
    KINDS = (("primary", "Primary contact (called first)", "e.g. soc@contoso.com"),
             ("backup", "Backup contacts (called next, in this order)", "e.g. oncall@contoso.com"))
    REQUIRED = "primary"
    SINGLE = frozenset({"primary"})

    def recorded(self) -> tuple[Contact, ...] | None:
        hunting = self.wizard.flow.answers.hunting
        return hunting.contacts if hunting is not None else None

    def change(self, contacts: tuple[Contact, ...]) -> mdr_choices.Change:
        return mdr_choices.hunting_contacts(contacts)
