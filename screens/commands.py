"""The wizard's keys and dialogs that every step shares: help, quit, Ctrl+C, restart, errors and links.

:class:`WizardCommands` is the base of :class:`~screens.app.WizardApp`; it draws dialogs and asks the
session (``self.core``) what to do; its one worker starts a browser for a link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from dex_tui.desktop import local_desktop
from dex_tui.errors import DexError, ExitCode, InternalError
from screens import messages as msg
from screens.base import StepScreen
from screens.links import allowed_link
from screens.steps import screen_for

if TYPE_CHECKING:
    from dex_tui.session import WizardSession
    from dex_tui.settings import Settings


class LinkNotOpened(Message):
    """A link's browser could not be started: show the link to open by hand."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


def browser_refusal(demo: bool) -> str:
    """Why this run shows a link instead of starting a browser, in a sentence."""
    if demo:
        return "Demo mode never starts a browser."
    desktop = local_desktop()
    if desktop.present:
        return "Starting a browser is turned off for this run."
    return f"No browser is started: {desktop.reason}."


class WizardCommands(App[int]):
    """The App's shared keys and dialogs (the session, settings and browser rule are set by the App)."""

    core: WizardSession
    settings: Settings
    browser_allowed: bool
    argv: tuple[str, ...]  # the command line the wizard was started with

    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True, id="app.quit",
                tooltip="quit (asks first; your progress is kept)"),
        Binding("ctrl+c", "interrupt", "Save and exit", show=False, priority=True, id="app.interrupt",
                tooltip="save your progress and quit at once"),
    ]

    def action_help(self) -> None:
        if isinstance(self.screen, StepScreen):
            from screens.help import HelpScreen, demo_keys, keys_table, step_key_rows

            keys = keys_table(StepScreen.BINDINGS, self.BINDINGS, step_key_rows(self.screen))
            demo = demo_keys(self.core.flow) if self.core.demo is not None else ""
            self.push_screen(HelpScreen(self.screen.step, demo, keys))

    def action_request_quit(self) -> None:
        from screens.dialogs import ConfirmDialog

        if isinstance(self.screen, ConfirmDialog):
            return
        if isinstance(self.screen, StepScreen) and self.core.flow.next_step(
                self.screen.STEP_ID, self.core.state.answers.service) is None:  # the last step: leave at once
            self.core.save_progress()
            self.exit(self.core.readiness_exit_code())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.core.save_progress()
                self.exit(int(ExitCode.READY))

        from dex_tui.exit_summary import resume_command

        again = resume_command(self.core, self.argv)
        self.push_screen(ConfirmDialog("Quit the wizard?", f"Your progress is saved. Run {again} to "
                                       "continue where you are (or with --restart to start over).",
                                       yes="Quit", no="Stay"), answered)

    def action_interrupt(self) -> None:
        """Ctrl+C: save and leave at once with exit code 130."""
        self.core.save_progress()
        self.exit(int(ExitCode.INTERRUPTED))

    def action_restart(self) -> None:
        from screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self.workers.cancel_group(self, "checks")
            self.core.restart()
            self.switch_screen(screen_for(self.core.flow.get(self.core.state.step)))

        self.push_screen(ConfirmDialog("Start over?", "Forget your answers and go back to the first step? "
                                       "The audit trail keeps what was recorded.", yes="Start over",
                                       no="Cancel"), answered)

    def show_error(self, error: DexError) -> None:
        from screens.dialogs import ErrorDialog

        self.push_screen(ErrorDialog(error))

    @on(msg.WorkerFailed)
    def _worker_failed(self, message: msg.WorkerFailed) -> None:
        self.show_error(message.error)

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        """Open allowed links only, in a graphical browser (started in a worker: a launcher may take a
        moment); in a remote session, without a desktop or in demo mode show them to copy, and say so
        when no browser could be started."""
        from screens.dialogs import LinkDialog

        if not allowed_link(url, self.settings):
            self.show_error(InternalError(f"The link {url!r} is not on the list of Microsoft hosts and "
                                          "configured endpoints, so it is not opened.", title="Link refused"))
            return
        if self.is_web:
            super().open_url(url, new_tab=new_tab)
            return
        if self.browser_allowed:
            self.run_worker(lambda: self._start_browser(url), thread=True, group="open-link", exit_on_error=False)
            return
        self.push_screen(LinkDialog(url, browser_refusal(self.settings.is_demo)))

    def _start_browser(self, url: str) -> None:
        """Worker: start the graphical browser on ``url`` (never a console browser); tell the UI when none
        could be started."""
        from dex_tui.loopback import open_in_graphical_browser

        if not open_in_graphical_browser(url):
            self.post_message(LinkNotOpened(url))

    @on(LinkNotOpened)
    def _link_not_opened(self, message: LinkNotOpened) -> None:
        from screens.dialogs import LinkDialog

        self.push_screen(LinkDialog(message.url, "No browser could be started here (the browser or its "
                                                 "launcher reported a failure)."))

