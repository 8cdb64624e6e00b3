"""MDR's Teams step (optional): choose whether to talk to the experts in Microsoft Teams, with its
preconditions checked live (teams.ready: group creation allowed for you, Security Administrator or
higher, a Teams licence), then record that you selected Communicate on Teams and watch for the
"Defender Experts team" to appear."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from dex_tui import mdr_choices
from dex_tui.mdr_answers import MdrAnswers
from dex_tui.results import CheckResult, Status
from screens.live_checks import LiveChecksStep
from screens.text import plain, tenant


class TeamsScreen(LiveChecksStep):
    STEP_ID = "mdr_teams"
    DEFAULT_CSS = """
    TeamsScreen #teams-buttons { height: 1; margin-top: 1; }
    TeamsScreen #teams-buttons Button { margin-right: 2; }
    """

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="teams-scroll"):
            yield self.portal_line()
            with Horizontal(id="teams-buttons"):
                yield Button("Use Teams", id="teams-yes", compact=True)
                yield Button("No Teams", id="teams-no", compact=True)
                yield Button("I selected Communicate on Teams", id="teams-set-up", compact=True)
            yield Static("", id="teams-recorded")
            yield from self.compose_rows()
            yield self.demo_status()

    def _mdr(self) -> MdrAnswers:
        return self.wizard.flow.answers.mdr or MdrAnswers()

    def watch_done(self, results: list[CheckResult]) -> bool:
        """Once set up, watch until the team exists; before that one look shows the preconditions."""
        mdr = self._mdr()
        if mdr.teams is not True or mdr.teams_recorded is None:
            return True
        return all(r.status in (Status.PASS, Status.FAIL) for r in results)

    def rows_changed(self) -> None:
        mdr = self._mdr()
        confirmed = self.wizard.flow.answers.confirmation(self.STEP_ID)
        widget = self.query_one("#teams-recorded", Static)
        if mdr.teams is None or confirmed is None:
            widget.update(plain("Nothing recorded: this step is optional. Use Teams checks its preconditions.",
                                style="italic"))
        elif mdr.teams is False:
            widget.update(plain(f"✔ Recorded by {confirmed.by} at {confirmed.at}: no Teams channel.", style="bold"))
        elif mdr.teams_recorded is None:
            widget.update(plain(f"✔ Teams chosen by {confirmed.by} at {confirmed.at}. In the portal select "
                                "Communicate on Teams, then record it here.", style="bold"))
        else:
            widget.update(plain("✔ Communicate on Teams recorded by ", style="bold")
                          + tenant(mdr.teams_recorded.by, style="bold")
                          + plain(f" at {mdr.teams_recorded.at}.", style="bold"))
        self.query_one("#teams-set-up", Button).display = mdr.teams is True and mdr.teams_recorded is None

    def _choose(self, chosen: bool, set_up: bool = False) -> None:
        self.wizard.record_choice(self.STEP_ID, mdr_choices.teams(chosen, set_up), teams=chosen, set_up=set_up)
        self.rows_changed()
        if self.wizard.session is not None:
            self.start_watch()

    @on(Button.Pressed, "#teams-yes")
    def _yes(self) -> None:
        self._choose(True)

    @on(Button.Pressed, "#teams-no")
    def _no(self) -> None:
        self._choose(False)
        self.query_one("#next").focus()

    @on(Button.Pressed, "#teams-set-up")
    def _set_up(self) -> None:
        self._choose(True, set_up=True)
        self.query_one("#next").focus()
