"""The wizard App: a shell around one headless :class:`~dex_tui.session.WizardSession`.

The session decides (flow, answers, progress, audit, sign-in-again, re-evaluation, report); the App
runs the blocking parts in workers, feeds what they post back into the session, and draws.

Threading rule (Harlequin's): every MSAL or Graph call runs in a thread worker that never touches
a widget; it posts a message (``screens.messages``) and the handlers here or on the step screens
change state. Workers pass ``is_cancelled`` down to the core, so quitting never waits on a poll.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES
from textual.timer import Timer
from textual.worker import get_current_worker

from dex_tui import collector
from dex_tui.errors import ExitCode, Interrupted
from dex_tui.flow import FlowState
from dex_tui.progress import TenantInUse
from dex_tui.safety import clean_text
from dex_tui.session import CheckRun, Notice, OpenBlocker, SessionEnded, WizardSession
from dex_tui.settings import Settings
from dex_tui.shutdown import end_app_on_signals, exit_code_for
from screens import messages as msg
from screens.base import StepScreen
from screens.commands import WizardCommands
from screens.links import can_start_browser
from screens.steps import preload_step_screens, screen_for
from screens.workers import as_dex_error

if TYPE_CHECKING:  # the sign-in, Graph, checks and report stack loads after the first screen (start-up time)
    from datetime import date

    from dex_tui.answers import Answers, Confirmation
    from dex_tui.auth import SignedIn
    from dex_tui.demo import FakeCloud
    from dex_tui.demo_controls import DemoControls
    from dex_tui.results import CheckResult
    from dex_tui.runtime import Runtime
    from dex_tui.token_cache import TokenCacheStore

REDRAW_INTERVAL = 0.05  # seconds: streamed check results are drawn at most this often
MAX_BLOCKERS_NAMED = 4  # the question names this many open blockers, then counts the rest
PRELOAD_DELAY = 0.3  # seconds after the first screen is drawn before the later steps load (preload=True)


class WizardApp(WizardCommands):
    """The Defender Experts settings flow."""

    CSS_PATH = "wizard.tcss"
    TITLE = "Defender Experts"

    def __init__(self, settings: Settings, *, restart: bool = False,
                 clock: Callable[[], float] = time.time, now_iso: Callable[[], str] | None = None,
                 browser: bool | None = None, theme: str | None = None, fake_cloud: FakeCloud | None = None,
                 demo: DemoControls | None = None, cache_store: TokenCacheStore | None = None,
                 graph_options: dict[str, Any] | None = None, preload: bool = False,
                 session: WizardSession | None = None, argv: Sequence[str] = (), service: str | None = None) -> None:
        """``clock`` drives countdowns and ``now_iso`` stamps confirmations (default: the wall clock,
        or the demo scenario's fixed time); inject frozen ones for snapshots. ``browser`` forces
        whether a browser may be started (default: only on a local desktop, never in demo mode).
        ``demo`` (or ``fake_cloud``) is the demo tenant (default: the scenario of ``settings.demo``);
        ``cache_store`` replaces the token cache the runtime would choose (tests share one between two
        runs); ``graph_options`` go to the Graph client (tests pass ``sleep`` so retries never wait);
        ``preload`` imports the later steps in the background once the first screen is drawn;
        ``session`` is a session built already (then the other session options are not used); ``argv``
        is the command line it was started with (the quit dialog names the command that resumes); ``service`` (``--service``) is chosen on
        the Welcome step before it is shown."""
        early_theme = bool(theme) and theme in BUILTIN_THEMES
        if early_theme:
            # Chosen before App.__init__ builds the stylesheet from the theme's variables: set later,
            # the theme makes Textual parse every style sheet again before the first frame.
            self._reactive_theme = theme
        super().__init__()
        if early_theme and self.theme == theme:
            self.set_class(True, f"-theme-{theme}", update=False)  # as App._watch_theme does
        elif theme:
            self.theme = theme
        self.settings = settings
        self.clock = clock
        self.core = session or WizardSession(settings, restart=restart, now_iso=now_iso, demo=demo,
                                             fake_cloud=fake_cloud, cache_store=cache_store,
                                             graph_options=graph_options, notify=self._notice)
        if service is not None and service != self.core.state.answers.service:
            self.core.choose_target(service=service, cloud=self.core.cloud_choice, tenant=self.core.tenant_choice)
        self.browser_allowed = (can_start_browser() and not settings.is_demo) if browser is None else browser
        if settings.is_demo:
            self.animation_level = "none"
            self.title = f"{self.TITLE} · DEMO {settings.demo}"
        self._preload = preload
        self.argv = tuple(argv)
        self._redraw_timer: Timer | None = None
        self._last_redraw = 0.0

    # -- what the screens and tests read (the session's state) -----------------------------------

    @property
    def flow(self) -> FlowState:
        return self.core.state

    @property
    def session(self) -> SignedIn | None:
        """Who is signed in (None: nobody)."""
        return self.core.signed

    @property
    def results(self) -> dict[str, CheckResult]:
        return self.core.results

    @property
    def checks_running(self) -> bool:
        return self.core.checks_running

    @property
    def runtime(self) -> Runtime:
        return self.core.runtime

    def _notice(self, notice: Notice) -> None:
        self.notify(notice.text, severity=notice.severity, markup=False, timeout=notice.timeout)

    def on_unmount(self) -> None:
        self.core.close()

    def save_progress(self) -> None:
        self.core.save_progress()

    # -- decisions (the screens call these; the session decides) ---------------------------------

    def answers_changed(self, ended: SessionEnded | None = None) -> None:
        """The answers changed (the session saved them and evaluated the checks that read them)."""
        if ended is not None:
            self.session_ended(ended)
            return
        self._results_changed()
        screen = self.top_screen()
        if isinstance(screen, StepScreen):
            screen.refresh_frame()

    def choose_target(self, *, service: str, cloud: str | None, tenant: str | None) -> bool:
        """Welcome-step choices; False (nothing changed, an error shown) when another dex-tui has that
        tenant open. A new tenant or cloud ends the sign-in: every worker stops."""
        try:
            start = self.core.choose_target(service=service, cloud=cloud, tenant=tenant,
                                            before_drop=self.workers.cancel_all)
        except TenantInUse as busy:
            self.show_error(busy)
            return False
        self.answers_changed()
        if start:
            self.start_checks()
        return True

    def confirm(self, step_id: str, **details: Any) -> None:
        """The operator confirmed what ``step_id`` asks (recorded with who and when, and audited)."""
        self.answers_changed(self.core.confirm(step_id, **details))

    def record_choice(self, step_id: str, change: Callable[[Answers, Confirmation], Answers], **details: Any) -> None:
        """The operator recorded a choice no API shows on ``step_id`` (see :meth:`WizardSession.record_choice`)."""
        self.answers_changed(self.core.record_choice(step_id, change, **details))

    def decide_role(self, role: str, granted: bool, *, reason: str = "", expires: date | None = None) -> None:
        """Grant or skip ``role`` (a skip with why and until when); a refused skip is an error, nothing changed."""
        from dex_tui.acknowledgements import AcknowledgementRefused  # loaded after the first screen

        try:
            ended = self.core.decide_role(role, granted, reason=reason, expires=expires)
        except AcknowledgementRefused as refused:
            self.show_error(refused)
            return
        self.answers_changed(ended)

    def acknowledge(self, check_id: str, reason: str, expires: date | None) -> None:
        """Accept ``check_id``'s warning (audited); a refused one is an error, nothing changed."""
        from dex_tui.acknowledgements import AcknowledgementRefused

        try:
            ended = self.core.acknowledge(check_id, reason, expires)
        except AcknowledgementRefused as refused:
            self.show_error(refused)
            return
        self.answers_changed(ended)

    def withdraw_acknowledgement(self, check_id: str) -> None:
        self.answers_changed(self.core.withdraw_acknowledgement(check_id))

    def ask_acknowledgement(self, check_id: str) -> None:
        """The acknowledgement dialog for ``check_id`` (why and until when), or why it cannot be
        acknowledged; only the dialog's Acknowledge or Withdraw button changes anything."""
        from dex_tui.acknowledgements import AcknowledgementRefused
        from screens.dialogs import Acknowledged, AcknowledgeDialog

        try:
            self.core.check_acknowledgeable(check_id)
        except AcknowledgementRefused as refused:
            self.show_error(refused)
            return
        core = self.core

        def answered(decision: Acknowledged | bool | None) -> None:
            if isinstance(decision, Acknowledged):
                self.acknowledge(check_id, decision.reason, decision.expires)
            elif decision is False:
                self.withdraw_acknowledgement(check_id)

        self.push_screen(AcknowledgeDialog(core.results[check_id], today=core.today(),
                                           validate=lambda reason, expires: core.check_acknowledgement(
                                               check_id, reason, expires),
                                           current=core.state.answers.acknowledgements.get(check_id)), answered)

    def signed_in(self, signed: SignedIn) -> None:
        """Sign-in finished: the session remembers who; the checks start."""
        self.core.signed_in(signed)
        self.start_checks()

    # -- checks ----------------------------------------------------------------------------------

    def start_checks(self) -> None:
        """Read the tenant and run every check in a worker; rows fill in as results arrive."""
        run = self.core.begin_checks()
        if run is None:
            return
        self._results_changed()
        self._run_checks(run)

    @work(thread=True, exclusive=True, exit_on_error=False, group="checks")
    def _run_checks(self, run: CheckRun) -> None:
        worker = get_current_worker()

        def arrived(result: CheckResult) -> None:
            self.post_message(msg.CheckArrived(result, run.number))

        try:
            results = run.execute(on_result=arrived, is_cancelled=lambda: worker.is_cancelled)
        except Interrupted:
            return
        except Exception as exc:  # every failure goes to the error dialog
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "checks"))
            self.post_message(msg.ChecksFinished([], run.number))
            return
        self.post_message(msg.ChecksFinished(results, run.number))

    @on(msg.CheckArrived)
    def _check_arrived(self, message: msg.CheckArrived) -> None:
        if self.core.result_arrived(message.result, message.run):
            self._results_changed_soon()

    @on(msg.ChecksFinished)
    def _checks_finished(self, message: msg.ChecksFinished) -> None:
        end = self.core.checks_finished(message.results, message.run, again=self.rerun_words())
        if end is None:
            return
        self._results_changed()
        if end.ended is not None:
            self.session_ended(end.ended)
        elif end.problem is not None:
            self.show_error(end.problem)

    def rerun_words(self) -> str:
        """How to run the checks again from the step on screen: r where it re-runs them, else the palette."""
        screen = self.top_screen()
        if screen is not None and any(isinstance(binding, Binding) and binding.action == "rerun" and binding.key == "r"
                                      for binding in screen.BINDINGS):
            return "press r to run the checks again"
        return "run the checks again (Ctrl+P, then Re-run the checks)"

    def session_ended(self, ended: SessionEnded) -> None:
        """The saved sign-in stopped working: the session is back on the sign-in step; show it and why."""
        self.workers.cancel_group(self, "checks")
        if ended.moved:
            self.switch_screen(screen_for(self.core.flow.get(ended.step)))
        self.show_error(ended.error)

    def merge_results(self, results: list[CheckResult]) -> None:
        """New results for some checks (a watch round); the others stay."""
        ended = self.core.merge_results(results)
        self._results_changed()
        if ended is not None:
            self.session_ended(ended)

    def watch_checks(self, ids: tuple[str, ...], until: Callable[[list[CheckResult]], bool],
                     on_round: Callable[[list[CheckResult]], None], is_cancelled: Callable[[], bool]) -> None:
        """Blocking (worker threads only): see :meth:`WizardSession.watch`."""
        self.core.watch(ids, until, on_round, is_cancelled)

    # -- report ----------------------------------------------------------------------------------

    def export_report(self, path: str, fmt: str) -> None:
        """Write the report in a worker; the audit trail records it when done. The path typed is
        remembered for the next export, whether or not the write works."""
        self.core.last_export = (path, fmt)
        self._write_report(self.core.build_report(), path, fmt)

    @work(thread=True, exit_on_error=False, group="export")
    def _write_report(self, report: dict[str, Any], path: str, fmt: str) -> None:
        try:
            written = self.core.write_report(report, path, fmt)
        except Exception as exc:  # every failure goes to the error dialog, then back to the export dialog
            self.post_message(msg.ReportFailed(as_dex_error(exc)))
            return
        self.post_message(msg.ReportExported(written, fmt, report["verdict"]))

    @on(msg.ReportFailed)
    def _report_failed(self, message: msg.ReportFailed) -> None:
        """The write failed after the path was checked (a full disk, a folder removed meanwhile): say
        why, then open the export dialog again on the path typed."""
        from screens.dialogs import ErrorDialog

        self.push_screen(ErrorDialog(message.error), lambda _: self.action_export())

    @on(msg.ReportExported)
    def _report_exported(self, message: msg.ReportExported) -> None:
        from dex_tui.exit_summary import host_name

        self.core.report_exported(message.path, message.fmt, message.verdict)
        self.notify(f"Report written: {clean_text(message.path, 400)} on host {host_name()}", markup=False)
        screen = self.top_screen()
        if isinstance(screen, StepScreen):
            screen.report_exported()

    # -- drawing ---------------------------------------------------------------------------------

    def _results_changed_soon(self) -> None:
        """Redraw for a streamed result, at most once per REDRAW_INTERVAL: a read that settles several
        checks at once, or results arriving together, cost one redraw, not one each."""
        if self._redraw_timer is not None:
            return
        wait = self._last_redraw + REDRAW_INTERVAL - time.monotonic()
        if wait <= 0:
            self._results_changed()
        else:
            self._redraw_timer = self.set_timer(wait, self._results_changed, name="redraw results")

    def _results_changed(self) -> None:
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        self._last_redraw = time.monotonic()
        screen = self.top_screen()
        if isinstance(screen, StepScreen):
            screen.results_changed()

    def top_screen(self) -> Screen[Any] | None:
        """The screen on top when it is composed; None while starting or shutting down."""
        try:
            screen = self.screen
        except ScreenStackError:
            return None
        return screen if screen.is_mounted else None

    # -- navigation ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        """The first step's screen is the bottom of the stack: no empty default screen is built, shown
        and covered first (~25 ms of start-up). It gets the placeholder result callback that
        ``App.switch_screen`` gives every screen it switches to, so going to the next step (a switch)
        works from it as from any other step."""
        screen = screen_for(self.core.flow.get(self.core.state.step))
        screen._push_result_callback(screen, None)
        return screen

    def on_mount(self) -> None:
        if self._preload:
            self.call_after_refresh(self._first_screen_shown)

    def _first_screen_shown(self) -> None:
        """The first screen is on the terminal: collect garbage again (see :func:`run_wizard`) and, once
        the operator is reading it, build the demo tenant (a deferred one) and load the later steps in
        the background."""
        collector.release()
        self.set_timer(PRELOAD_DELAY, self._preload_later, name="preload steps")

    def _preload_later(self) -> None:
        if self.core.demo is not None:
            self.core.demo.start_building()
        preload_step_screens(self.core.flow)

    def goto(self, step_id: str) -> None:
        self.core.goto(step_id)
        self.switch_screen(screen_for(self.core.flow.get(step_id)))

    def go_next(self, go_past: tuple[str, ...] = ()) -> None:
        """Next: on to the next step, or a gate's reason, or first a question about open blockers."""
        move = self.core.go_next(go_past)
        if move.ask:
            self._ask_past_blockers(move.ask)
        elif move.blocked is not None:
            self.notify(move.blocked, severity="warning", markup=False)
        elif move.finished is not None:
            self.exit(move.finished)
        elif move.step is not None:
            self.switch_screen(screen_for(self.core.flow.get(move.step)))

    def _ask_past_blockers(self, blockers: tuple[OpenBlocker, ...]) -> None:
        """Failed or unknown blockers: name them and go on only through the explicit button (Esc,
        Stay and Enter on the focused Stay change nothing); going on is audited by the session."""
        from screens.dialogs import ConfirmDialog

        shown = blockers[:MAX_BLOCKERS_NAMED]
        lines = [f"{'✖' if b.status == 'fail' else '?'} {clean_text(b.title, 80)} ({b.status}): "
                 f"{clean_text(b.summary, 140)}" for b in shown]
        if len(blockers) > len(shown):
            lines.append(f"… and {len(blockers) - len(shown)} more (see the Eligibility step)")
        many = len(blockers) > 1
        question = ("Defender Experts onboarding needs " + ("these" if many else "this") + ", and "
                    + ("they are" if many else "it is") + " not met:\n" + "\n".join(lines)
                    + "\n\nStay to fix " + ("them" if many else "it") + " first. Go on anyway only if you "
                    "mean to: the audit trail records that you went on past " + ("them." if many else "it."))

        def answered(go_on: bool | None) -> None:
            if go_on:
                self.go_next(go_past=tuple(b.id for b in blockers))

        title = f"Go on with {len(blockers)} blockers open?" if many else "Go on with a blocker open?"
        self.push_screen(ConfirmDialog(title, question, yes="Go on anyway", no="Stay"), answered)

    def go_back(self) -> None:
        before = self.core.go_back()
        if before is not None:
            self.switch_screen(screen_for(self.core.flow.get(before)))

    # -- keys, palette, dialogs ------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The wizard's own commands only. Textual's defaults are left out: its Quit leaves at once
        while Ctrl+Q asks first, Keys duplicates F1 without the step's words, Screenshot writes a file
        nobody asked for, and Theme can make the focus invisible (``TEXTUAL_THEME`` chooses one)."""
        yield SystemCommand("Re-run the checks", "Read the tenant again and re-evaluate every check",
                            self.action_rerun_checks)
        yield SystemCommand("Export the report", "Write the readiness report as JSON, Markdown or HTML",
                            self.action_export)
        yield SystemCommand("Help for this step", "What this step is for and its keys (F1)", self.action_help)
        yield SystemCommand("Restart the wizard", "Forget the answers and start over (asks first)",
                            self.action_restart)
        yield SystemCommand("Quit the wizard", "Asks first; your progress is kept (Ctrl+Q)", self.action_request_quit)

    def action_rerun_checks(self) -> None:
        if self.core.signed is None:
            self.notify("Sign in first: the checks read your tenant.", severity="warning")
            return
        self.start_checks()

    def action_export(self) -> None:
        """The export dialog, from any step once the checks have run."""
        from screens.export import ExportDialog

        if not self.core.can_export():
            self.notify("Export once you are signed in and the checks have finished.", severity="warning")
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self.export_report(*choice)

        from dex_tui.exit_summary import host_name

        self.push_screen(ExportDialog(self.core.default_report_name(), check_path=self.core.check_report_path,
                                      host=host_name(), last=self.core.last_export), chosen)


def run_wizard(settings: Settings, restart: bool, argv: Sequence[str] = (), approval: str | None = None,
               service: str | None = None) -> int:
    """Run the wizard in this terminal and return the exit code (130 after Ctrl+C). Once the terminal
    is back on its normal screen, print the summary (:mod:`dex_tui.exit_summary`); ``argv`` is the
    command line the wizard was started with, for the command that resumes; ``approval``: how the
    demo answers device codes (default: when the operator presses a); ``service`` (``--service``) is
    preselected on the Welcome step."""
    ended = _run_app(settings, restart, argv, approval, service)
    print_exit_summary(ended.app, ended.code, argv)
    return ended.code


def print_exit_summary(app: WizardApp | None, code: int, argv: Sequence[str]) -> None:
    """The exit summary on standard output; a terminal that is gone (SIGHUP) gets nothing, silently."""
    if app is None:
        return
    from dex_tui import console
    from dex_tui.exit_summary import exit_summary

    try:
        for line in exit_summary(app.core, code, argv):
            if not console.out(line):
                return
    except OSError:  # the terminal went away with the connection
        return


@dataclass(frozen=True)
class _Ended:
    """How the App ended: the exit code, and the App (None when it crashed: no summary then)."""

    app: WizardApp | None
    code: int


def _run_app(settings: Settings, restart: bool, argv: Sequence[str], approval: str | None,
             service: str | None) -> _Ended:
    """Build the App and run it in this terminal until it ends (see :func:`run_wizard`)."""
    theme = None
    if not os.environ.get("TEXTUAL_THEME") and os.environ.get("COLORTERM", "").lower() not in ("truecolor", "24bit"):
        theme = "ansi-dark"
    demo = None
    if settings.demo:
        from dex_tui.demo_controls import DemoControls

        # A shipped scenario: only its header (its domain, for the Welcome step) is read before the first
        # frame; the fake cloud is built in the background after it (see _first_screen_shown).
        demo = DemoControls.for_wizard(settings.demo, approval=approval)
    from dex_tui.progress import tenant_key
    from dex_tui.unclean_exit import RESTORE_HINT, TERMINAL_RESTORE, RunMarker

    marker = RunMarker(settings.resolved_state_dir(), tenant_key(settings.tenant, settings.demo))
    from screens import css_cache

    css_cache.install()  # the stylesheets parsed at the last start, read back instead of parsed again
    # The cyclic collector stays paused until the first screen is drawn (dex_tui.collector: the dex-tui
    # command paused it at its first line; a caller that did not is paused here).
    collector.hold()
    try:
        app = WizardApp(settings, restart=restart, theme=theme, demo=demo, preload=True, argv=argv, service=service)
    except BaseException:  # e.g. TenantInUse: the collector must not stay off
        collector.release()
        raise
    if marker.left_behind():  # printed on the normal screen: there again once the wizard ends
        from dex_tui import console

        if sys.stderr.isatty():
            sys.stderr.write(TERMINAL_RESTORE)
        console.err(f"dex-tui: {RESTORE_HINT}")
    marker.write()
    try:
        def end_on_signal(code: int) -> None:  # SIGTERM, SIGHUP: keep the progress, leave with the code
            app.save_progress()
            app.exit(code)

        from screens.terminal_gone import end_when_terminal_gone

        end = end_when_terminal_gone(app, end_on_signal)  # a terminal gone without SIGHUP ends it as one
        with end_app_on_signals(end):
            result = app.run()
    except KeyboardInterrupt:
        app.core.save_progress()
        marker.remove()
        return _Ended(app, int(ExitCode.INTERRUPTED))
    finally:
        collector.release()  # in case the app ended before its first screen was drawn
    hang_up = getattr(signal, "SIGHUP", None)
    if hang_up is None or result != exit_code_for(hang_up):  # after a hang-up the terminal was not put back
        marker.remove()
    if result is None:  # the app ended without choosing a code: an internal failure if it crashed
        return _Ended(None, int(ExitCode.USAGE)) if app.return_code else _Ended(app, int(ExitCode.READY))
    return _Ended(app, int(result))
