"""The wizard App: owns the flow state, the session, the check results, progress and audit trail.

Threading rule (Harlequin's): every MSAL or Graph call runs in a thread worker that never touches
a widget; it posts a message (``screens.messages``) and the handlers here or on the step screens
change state. Workers pass ``is_cancelled`` down to the core, so quitting never waits on a poll.
"""

from __future__ import annotations

import gc
import getpass
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES
from textual.timer import Timer
from textual.worker import get_current_worker

from dex_tui.answers import Answers, Confirmation, utc_now_iso
from dex_tui.audit import AuditTrail, AuditWriteError, audit_path
from dex_tui.errors import DexError, ExitCode, InternalError, Interrupted
from dex_tui.flow import (
    SKIP_ACKNOWLEDGEMENT,
    FlowState,
    all_steps,
    applicable_step,
    get_step,
    next_step,
    previous_step,
)
from dex_tui.progress import Progress, ProgressStore, TenantInUse, tenant_key
from dex_tui.settings import Settings
from dex_tui.shutdown import end_app_on_signals
from screens import messages as msg
from screens.base import StepScreen
from screens.links import allowed_link, can_start_browser
from screens.steps import STEP_SCREENS, preload_step_screens
from screens.text import plain
from screens.workers import as_dex_error

if TYPE_CHECKING:  # the sign-in, Graph, checks and report stack loads after the first screen (start-up time)
    from dex_tui.auth import SignedIn
    from dex_tui.engine import Checker
    from dex_tui.results import CheckResult
    from dex_tui.runtime import Runtime
    from dex_tui.token_cache import TokenCacheStore

STEPS_BEFORE_SESSION = ("welcome", "signin")
ANSWER_CHECKS = ("experts.terms", "experts.license", "experts.roles")  # read the operator's answers
REDRAW_INTERVAL = 0.05  # seconds: streamed check results are drawn at most this often
PRELOAD_DELAY = 0.3  # seconds after the first screen is drawn before the later steps load (preload=True)


class WizardApp(App[int]):
    """The Defender Experts settings flow."""

    CSS_PATH = "wizard.tcss"
    TITLE = "Defender Experts"
    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True, id="app.quit"),
        Binding("ctrl+c", "interrupt", "Save and exit", show=False, priority=True, id="app.interrupt"),
    ]

    def __init__(self, settings: Settings, *, restart: bool = False,
                 clock: Callable[[], float] = time.time, now_iso: Callable[[], str] | None = None,
                 browser: bool | None = None, theme: str | None = None, fake_cloud: Any = None,
                 cache_store: TokenCacheStore | None = None, graph_options: dict[str, Any] | None = None,
                 preload: bool = False) -> None:
        """``clock`` drives countdowns and ``now_iso`` stamps confirmations (default: the wall clock,
        or the demo scenario's fixed time); inject frozen ones for snapshots. ``browser`` forces
        whether a browser may be started (default: only on a local desktop, never in demo mode).
        ``fake_cloud`` is the demo tenant (default: the scenario of ``settings.demo``); ``cache_store``
        replaces the token cache the runtime would choose (tests share one between two runs);
        ``graph_options`` go to the Graph client (tests pass ``sleep`` so retries never wait);
        ``preload`` imports the later steps in the background once the first screen is drawn."""
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
        if fake_cloud is None and settings.is_demo:
            from dex_tui.demo import FakeCloud, load_scenario

            fake_cloud = FakeCloud(load_scenario(settings.demo or ""))
        self.fake_cloud = fake_cloud
        self.clock = clock
        if now_iso is None:
            now_iso = (lambda: fake_cloud.scenario.now) if fake_cloud is not None else utc_now_iso
        self.now_iso = now_iso
        self._runtime: Runtime | None = None
        self._cache_store = cache_store
        self._graph_options = dict(graph_options or {})
        self.browser_allowed = (can_start_browser() and not settings.is_demo) if browser is None else browser
        if settings.is_demo:
            self.animation_level = "none"
            self.title = f"{self.TITLE} · DEMO {settings.demo}"
        self.state_dir = settings.resolved_state_dir()
        self.tenant_choice: str | None = settings.tenant
        self.cloud_choice: str | None = settings.cloud
        self.flow = FlowState()
        self.session: SignedIn | None = None
        self.checker: Checker | None = None
        self.results: dict[str, CheckResult] = {}
        self.checks_running = False
        self.checked_at = ""
        self.exports: list[tuple[str, str]] = []
        self.check_run = 0
        self.saved_tenant_id: str | None = None
        self.needs_new_code = False  # the cached sign-in stopped working: skip the account picker
        self.resume_to: str | None = None
        self.notice: str | None = None
        self._preload = preload
        self._redraw_timer: Timer | None = None
        self._last_redraw = 0.0
        self._open_store()
        self._load_progress(restart)

    # -- progress and audit -------------------------------------------------------------------

    def _key(self) -> str:
        return tenant_key(self.tenant_choice, self.settings.demo)

    def _open_store(self) -> None:
        """This tenant's progress and audit files, holding its lock (TenantInUse: another dex-tui has it)."""
        store = ProgressStore(self.state_dir, self._key(), clock=self.now_iso)
        store.acquire()
        if getattr(self, "store", None) is not None:
            self.store.release()
        self.store = store
        self.audit = AuditTrail(audit_path(self.state_dir, self._key()), clock=self.now_iso)

    def on_unmount(self) -> None:
        self.store.release()

    def _load_progress(self, restart: bool) -> None:
        if restart:
            if self.store.clear():
                self.audit.record("progress_restarted", by=_local_user())
            return
        loaded = self.store.load()
        self.notice = loaded.notice
        saved = loaded.progress
        if saved is None:
            return
        self.cloud_choice = self.cloud_choice or saved.cloud
        self.saved_tenant_id = saved.tenant_id
        step = applicable_step(saved.step, saved.answers.service)
        self.flow = FlowState(step="welcome", answers=saved.answers, completed=frozenset(saved.completed))
        if step in STEPS_BEFORE_SESSION:
            self.flow = replace(self.flow, step=step)
        else:
            self.resume_to = step
            self.flow = replace(self.flow, step="signin")
            self.notice = (self.notice + "\n" if self.notice else "") + (
                f"Welcome back: you were on '{get_step(step).title}'. Sign in to continue there "
                "(run with --restart to start over).")

    def save_progress(self) -> None:
        step = self.resume_to or self.flow.step
        tenant_id = self.session.tenant_id if self.session else self.saved_tenant_id
        try:
            self.store.save(Progress(step=step, answers=self.flow.answers, completed=tuple(sorted(self.flow.completed)),
                                     cloud=self.cloud_choice, tenant_id=tenant_id))
        except OSError as exc:
            self.notify(f"Progress could not be saved to {self.store.path}: {exc.strerror}", severity="error",
                        markup=False)
        except TenantInUse as busy:
            self.notify(f"Progress was not saved: {busy.explanation}", severity="error", markup=False)

    @property
    def operator(self) -> str:
        """Who is signed in (their user principal name), for confirmations and the audit trail."""
        return (self.session.username if self.session else "") or _local_user()

    def confirmation(self) -> Confirmation:
        return Confirmation(by=self.operator, at=self.now_iso())

    def record(self, event: str, **details: Any) -> None:
        try:
            self.audit.record(event, by=self.operator, tenant_id=self.session.tenant_id if self.session else None,
                              **details)
        except AuditWriteError as failed:
            self.notify(failed.one_line(), severity="error", timeout=30, markup=False)
        for notice in self.audit.pop_notices():
            self.notify(notice, severity="warning", timeout=30, markup=False)

    def set_answers(self, answers: Answers) -> None:
        """New answers: saved at once, and the checks that read them evaluated again."""
        self.flow = self.flow.with_answers(answers)
        self.save_progress()
        self.reevaluate()
        screen = self.top_screen()
        if isinstance(screen, StepScreen):
            screen.refresh_frame()

    def decide_role(self, role: str, granted: bool) -> None:
        """Grant or skip an optional role. A skip carries the operator's acknowledgement (who, when);
        each change of decision is recorded in the audit trail at once."""
        previous = self.flow.answers.roles.get(role)
        answers = self.flow.answers.with_role(role, granted)
        acknowledgements = dict(answers.acknowledgements)
        key = SKIP_ACKNOWLEDGEMENT[role]
        if granted:
            acknowledgements.pop(key, None)
        elif key not in acknowledgements:
            acknowledgements[key] = self.confirmation()
        self.set_answers(replace(answers, acknowledgements=acknowledgements))
        if previous == granted:
            return
        if granted:
            self.record("role_granted", role=role)
            return
        from dex_tui.catalogue import catalogue

        info = catalogue().role(role)
        ack = acknowledgements[key]
        self.record("role_skipped", role=role, acknowledged_by=ack.by, acknowledged_at=ack.at,
                    lost=list(info.lost_actions or info.adds))

    def accept_terms(self) -> None:
        self.set_answers(replace(self.flow.answers, terms=self.confirmation()))
        self.record("terms_accepted", service=self.flow.answers.service)

    def choose_target(self, *, service: str, cloud: str | None, tenant: str | None) -> bool:
        """Welcome-step choices. A different tenant or cloud ends this run's session (sign in again);
        a different tenant also switches to that tenant's progress and audit files. False (nothing
        changed, an error shown) when another dex-tui has that tenant open."""
        target_changed = tenant != self.tenant_choice or cloud != self.cloud_choice
        if tenant != self.tenant_choice:
            previous, self.tenant_choice = self.tenant_choice, tenant
            try:
                self._open_store()
            except TenantInUse as busy:  # nothing changes: the operator picks another tenant or closes that one
                self.tenant_choice = previous
                self.show_error(busy)
                return False
        if target_changed:
            self._drop_runtime()
        changed_service = service != self.flow.answers.service
        self.cloud_choice = cloud
        self.set_answers(replace(self.flow.answers, service=service))
        if changed_service:
            self.service_changed()
        return True

    # -- runtime and sign-in ------------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The run's runtime for the chosen tenant and cloud (built without network I/O)."""
        if self._runtime is None:
            from dex_tui.runtime import Runtime

            settings = replace(self.settings, tenant=self.tenant_choice, cloud=self.cloud_choice)
            self._runtime = Runtime(settings, fake_cloud=self.fake_cloud, cache_store=self._cache_store)
        return self._runtime

    def ensure_runtime(self) -> Runtime:
        """Build the runtime on the UI thread before a worker uses it."""
        return self.runtime

    def _drop_runtime(self) -> None:
        if self._runtime is not None:
            self.workers.cancel_all()
            self._runtime.close()
            self._runtime = None
        self.session = None
        self.forget_results()

    def signed_in(self, signed: SignedIn) -> None:
        """Sign-in finished: remember who, notice a tenant change, save, and start the checks."""
        if self.saved_tenant_id and signed.tenant_id and signed.tenant_id != self.saved_tenant_id:
            self.notify("The saved progress belonged to another tenant; its answers were cleared.",
                        severity="warning", markup=False)
            self.flow = FlowState(step="signin", answers=Answers(service=self.flow.answers.service))
            self.resume_to = None
        self.session = signed
        self.needs_new_code = False
        self.saved_tenant_id = signed.tenant_id
        self.save_progress()
        self.start_checks()

    def cloud_note(self) -> str:
        """The cloud in use and how it was chosen (after sign-in the choice is cached: no network)."""
        if self._runtime is None or self.session is None:
            return ""
        choice = self._runtime.resolve_cloud()
        how = {"option": "as chosen", "detected": "detected from the tenant's metadata, a hint",
               "assumed": "assumed, nothing could be detected"}.get(choice.source, choice.source)
        return f"{choice.cloud.label} ({how})"

    # -- checks ----------------------------------------------------------------------------------

    def start_checks(self) -> None:
        """Read the tenant and run every check in a worker; rows fill in as results arrive."""
        if self.session is None:
            return
        if self.checker is None:
            from dex_tui.engine import Checker

            # After sign-in the cloud is resolved and cached, so building the checker does no I/O.
            self.checker = Checker.for_runtime(self.runtime, **self._graph_options)
        self.check_run += 1
        self.results = {}
        self.checks_running = True
        self._results_changed()
        self._run_checks(self.checker, self.check_run, self.flow.answers)

    @work(thread=True, exclusive=True, exit_on_error=False, group="checks")
    def _run_checks(self, checker: Checker, run: int, answers: Answers) -> None:
        worker = get_current_worker()
        try:
            results = checker.run(answers, on_result=lambda result: self.post_message(msg.CheckArrived(result, run)),
                                  is_cancelled=lambda: worker.is_cancelled)
        except Interrupted:
            return
        except Exception as exc:  # every failure goes to the error dialog
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "checks"))
            self.post_message(msg.ChecksFinished([], run))
            return
        self.post_message(msg.ChecksFinished(results, run))

    @on(msg.CheckArrived)
    def _check_arrived(self, message: msg.CheckArrived) -> None:
        if message.run == self.check_run:
            self.results[message.result.id] = message.result
            self._results_changed_soon()

    @on(msg.ChecksFinished)
    def _checks_finished(self, message: msg.ChecksFinished) -> None:
        from screens.checks_view import failed_reads_error, session_ended

        if message.run != self.check_run:
            return
        self.results.update({result.id: result for result in message.results})
        self.checks_running = False
        self.checked_at = self.now_iso()
        self.reevaluate()  # answers given while the run was going
        if self.checker is not None and session_ended(self.checker.facts):
            self.sign_in_again()
            return
        problem = failed_reads_error(self.checker.facts) if self.checker is not None and message.results else None
        if problem is not None:
            self.show_error(problem)

    def sign_in_again(self) -> None:
        """The saved sign-in stopped working (revoked or expired): back to Sign in with a new code,
        then on to the step the operator was on, with fresh results."""
        from dex_tui.auth import SignInRequired

        step = self.flow.step
        self.resume_to = None if step in STEPS_BEFORE_SESSION else step
        self.session = None
        self.needs_new_code = True
        self.forget_results()
        self.save_progress()
        if step != "signin":
            self.goto("signin")
        self.show_error(SignInRequired(
            "Your sign-in no longer works: it was revoked or has expired, so the checks could not read your "
            "tenant.", next_step="Sign in again with the new code on the Sign in step; you then come back to "
                                 "where you were."))

    def merge_results(self, results: list[CheckResult]) -> None:
        """New results for some checks (a watch round); the others stay."""
        from screens.checks_view import session_ended

        self.results.update({result.id: result for result in results})
        self._results_changed()
        if self.checker is not None and self.session is not None and session_ended(self.checker.facts):
            self.sign_in_again()

    def reevaluate(self) -> None:
        """Evaluate again, without the network, the checks that read the operator's answers."""
        if self.checker is not None and not self.checks_running and self.results:
            self.merge_results(self.checker.reevaluate(self.flow.answers, ids=ANSWER_CHECKS))
        else:
            self._results_changed()

    # -- report ----------------------------------------------------------------------------------

    def build_report(self) -> dict[str, Any]:
        """The readiness report of the latest results (pure: no network)."""
        from dex_tui.catalogue import CHECK_IDS
        from dex_tui.facts import CloudInfo, TenantFacts
        from dex_tui.report import build_report

        facts = self.checker.facts if self.checker is not None else TenantFacts(cloud=CloudInfo("commercial"))
        ordered = [self.results[i] for i in CHECK_IDS if i in self.results]
        return build_report(ordered, facts, self.flow.answers, demo=self.settings.demo, signed_in=self.session,
                            generated_at=self.now_iso())

    def default_report_name(self) -> str:
        from dex_tui.report import default_filename

        return default_filename(self.build_report(), "json")

    def export_report(self, path: str, fmt: str) -> None:
        """Write the report in a worker; the audit trail records it when done."""
        self._write_report(self.build_report(), path, fmt)

    @work(thread=True, exit_on_error=False, group="export")
    def _write_report(self, report: dict[str, Any], path: str, fmt: str) -> None:
        try:
            from dex_tui.report import write_report

            written = write_report(report, Path(path), fmt)
        except Exception as exc:  # every failure goes to the error dialog
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "export"))
            return
        self.post_message(msg.ReportExported(str(written.resolve()), fmt, report["verdict"]))

    @on(msg.ReportExported)
    def _report_exported(self, message: msg.ReportExported) -> None:
        self.exports.append((message.path, message.fmt))
        self.record("report_exported", path=message.path, format=message.fmt, verdict=message.verdict)
        self.notify(f"Report written: {message.path}", markup=False)
        screen = self.top_screen()
        if screen is not None and hasattr(screen, "report_exported"):
            screen.report_exported()

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
        if screen is not None and hasattr(screen, "results_changed"):
            screen.results_changed()

    def top_screen(self) -> Screen[Any] | None:
        """The screen on top when it is composed; None while starting or shutting down."""
        try:
            screen = self.screen
        except ScreenStackError:
            return None
        return screen if screen.is_mounted else None

    def forget_results(self) -> None:
        """Drop check results and the facts behind them (the tenant or cloud changed)."""
        self.workers.cancel_group(self, "checks")
        self.checker = None
        self.results = {}
        self.checks_running = False
        self.check_run += 1

    def service_changed(self) -> None:
        """Another service: the facts stay, every check is evaluated again for it (no network)."""
        if self.checker is not None and not self.checks_running and self.results:
            self.results = {r.id: r for r in self.checker.reevaluate(self.flow.answers)}
        elif self.session is not None:
            self.start_checks()

    def watch_checks(self, ids: tuple[str, ...], until: Callable[[list[CheckResult]], bool],
                     on_round: Callable[[list[CheckResult]], None], is_cancelled: Callable[[], bool]) -> None:
        """Blocking (worker threads only): re-read ``ids`` with growing pauses until ``until``."""
        if self.checker is None:
            from dex_tui.auth import SignInRequired

            raise SignInRequired("Nobody is signed in.", next_step="Go back to the sign-in step.")
        # Reading self.flow from the worker is safe: it is an immutable value replaced, never mutated.
        self.checker.watch(ids, lambda: self.flow.answers, until=until, on_round=on_round,
                           is_cancelled=is_cancelled)

    # -- navigation ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        """The first step's screen is the bottom of the stack: no empty default screen is built, shown
        and covered first (~25 ms of start-up). It gets the placeholder result callback that
        ``App.switch_screen`` gives every screen it switches to, so going to the next step (a switch)
        works from it as from any other step."""
        screen = self._make_screen(self.flow.step)
        screen._push_result_callback(screen, None)
        return screen

    def on_mount(self) -> None:
        if self._preload:
            self.call_after_refresh(self._first_screen_shown)

    def _first_screen_shown(self) -> None:
        """The first screen is on the terminal: collect garbage again (see :func:`run_wizard`) and, once
        the operator is reading it, load the later steps in the background."""
        gc.enable()
        self.set_timer(PRELOAD_DELAY, preload_step_screens, name="preload steps")

    def _make_screen(self, step_id: str) -> Screen[Any]:
        return STEP_SCREENS[step_id]()

    def goto(self, step_id: str) -> None:
        self.notice = None  # start-up notices are shown on the first screen only
        self.flow = replace(self.flow, step=step_id)
        self.save_progress()
        self.switch_screen(self._make_screen(step_id))

    def go_next(self) -> None:
        """Move on from the current step; after sign-in, a resumed run jumps back to where it was."""
        current = self.flow.step
        try:
            moved = self.flow.go_next(signed_in=self.session is not None)
        except ValueError as reason:
            self.notify(str(reason), severity="warning", markup=False)
            return
        if next_step(current, self.flow.answers.service) is None:
            self.flow = moved
            self.finish()
            return
        target = self.resume_to if current == "signin" and self.resume_to else moved.step
        self.resume_to = None
        self.flow = moved
        self.goto(target)

    def go_back(self) -> None:
        before = previous_step(self.flow.step, self.flow.answers.service)
        if before is not None:
            self.goto(before)

    def finish(self) -> None:
        """Leaving the review: the exit code says how ready the tenant is (as ``dex-tui check``)."""
        self.save_progress()
        self.exit(self.readiness_exit_code())

    def readiness_exit_code(self) -> int:
        """As ``dex-tui check``: 0 ready, 1 warnings, 2 a blocker failed, 3 a blocker not evaluated."""
        from dex_tui.report import exit_code_for

        if not self.results:
            return int(ExitCode.CANNOT_EVALUATE)
        return int(exit_code_for(self.results.values()))

    # -- warnings shared by the steps ------------------------------------------------------------

    def skipped_roles_warning(self, step_id: str) -> Text | None:
        """The skipped-role warning, shown on every step after Manage permissions up to the end."""
        answers = self.flow.answers
        order = [s.id for s in all_steps()]
        if answers.service != "xdr" or order.index(step_id) <= order.index("permissions"):
            return None
        lines = [self.role_warning(role, answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role]), short=True)
                 for role in answers.skipped_roles()]
        return Text("\n").join(lines) if lines else None

    def role_warning(self, role: str, ack: Confirmation | None, *, short: bool = False) -> Text:
        """What the experts cannot do without ``role`` (shared catalogue text), and who acknowledged it."""
        from dex_tui.catalogue import catalogue

        info = catalogue().role(role)
        items = info.lost_actions or info.adds
        text = plain(f"⚠ {info.label} skipped: the experts cannot {', '.join(i[0].lower() + i[1:] for i in items)}.",
                     style="bold")
        if ack is not None and not short:
            text.append_text(plain(f" Acknowledged by {ack.by} at {ack.at}.", style="italic"))
        return text

    def demo_portal(self, action: str) -> str:
        """Demo only: do in the fake tenant what the operator would do in a portal; returns what happened."""
        if self.fake_cloud is None:
            return ""
        portal = self.fake_cloud.portal
        if action == "order_licence":
            part = portal.place_licence_order(self.flow.answers.service)
            return (f"Demo: the licence order was placed in the fake tenant (assumed part number {part}); "
                    "the watch should see it at its next look.")
        portal.give_access()
        return ("Demo: Give access was selected in the fake tenant: the Microsoft Experts partner and the two "
                "conditional access policies now exist; the live checks will see them.")

    # -- keys, palette, dialogs ------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, StepScreen):
            from screens.help import HelpScreen

            self.push_screen(HelpScreen(get_step(self.screen.STEP_ID), self.settings.is_demo))

    def action_request_quit(self) -> None:
        from screens.dialogs import ConfirmDialog

        if isinstance(self.screen, ConfirmDialog):
            return
        on_review = isinstance(self.screen, StepScreen) and self.screen.STEP_ID == "review"
        if on_review:
            self.save_progress()
            self.exit(self.readiness_exit_code())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.save_progress()
                self.exit(int(ExitCode.READY))

        again = f"dex-tui --demo {self.settings.demo}" if self.settings.demo else "dex-tui"
        self.push_screen(ConfirmDialog("Quit the wizard?", f"Your progress is saved. Run {again} again to "
                                       "continue where you are (or with --restart to start over).",
                                       yes="Quit", no="Stay"), answered)

    def action_interrupt(self) -> None:
        """Ctrl+C: save and leave at once with exit code 130."""
        self.save_progress()
        self.exit(int(ExitCode.INTERRUPTED))

    def action_restart(self) -> None:
        from screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self.store.clear()
            self.record("progress_restarted")
            self.flow = FlowState()
            self.resume_to = None
            self.notice = None
            self.forget_results()
            self.goto("welcome")

        self.push_screen(ConfirmDialog("Start over?", "Forget your answers and go back to the first step? "
                                       "The audit trail keeps what was recorded.", yes="Start over",
                                       no="Cancel"), answered)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("Re-run the checks", "Read the tenant again and re-evaluate every check",
                            self.action_rerun_checks)
        yield SystemCommand("Export the report", "Write the readiness report as JSON, Markdown or HTML",
                            self.action_export)
        yield SystemCommand("Help for this step", "What this step is for and its keys", self.action_help)
        yield SystemCommand("Restart the wizard", "Forget the answers and start over", self.action_restart)
        yield from super().get_system_commands(screen)

    def action_rerun_checks(self) -> None:
        if self.session is None:
            self.notify("Sign in first: the checks read your tenant.", severity="warning")
            return
        self.start_checks()

    def action_export(self) -> None:
        """The export dialog, from any step once the checks have run."""
        from screens.export import ExportDialog

        if self.session is None or not self.results or self.checks_running:
            self.notify("Export once you are signed in and the checks have finished.", severity="warning")
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self.export_report(*choice)

        self.push_screen(ExportDialog(self.default_report_name()), chosen)

    def show_error(self, error: DexError) -> None:
        from screens.dialogs import ErrorDialog

        self.push_screen(ErrorDialog(error))

    @on(msg.WorkerFailed)
    def _worker_failed(self, message: msg.WorkerFailed) -> None:
        self.show_error(message.error)

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        """Open allowed links only; over SSH, without a desktop or in demo mode show them to copy."""
        from screens.dialogs import LinkDialog

        if not allowed_link(url, self.settings):
            self.show_error(InternalError(f"The link {url!r} is not on the list of Microsoft hosts and "
                                          "configured endpoints, so it is not opened.", title="Link refused"))
            return
        if self.is_web or self.browser_allowed:
            super().open_url(url, new_tab=new_tab)
            return
        why = ("Demo mode never starts a browser." if self.settings.is_demo
               else "No local desktop was found (SSH session or no display), so no browser is started here.")
        self.push_screen(LinkDialog(url, why))


def _local_user() -> str:
    try:
        return f"local user {getpass.getuser()}"
    except (OSError, KeyError):
        return "local user"


DEMO_APPROVAL_POLLS = 8  # interactive demo: the device code is approved after ~8 s (or at once with "a")


def demo_cloud(scenario: str) -> Any:
    """The fake tenant for an interactive ``--demo`` run: a scenario that approves device codes at
    once is slowed to a short wait, so the sign-in panel can be seen (the "a" key approves at once)."""
    from dex_tui.demo import FakeCloud, load_scenario

    loaded = load_scenario(scenario)
    knobs = loaded.behaviour.device_code
    if knobs.approval == "auto" and knobs.after_polls < DEMO_APPROVAL_POLLS:
        loaded = loaded.with_knobs(device_code={"after_polls": DEMO_APPROVAL_POLLS})
    return FakeCloud(loaded)


def run_wizard(settings: Settings, restart: bool) -> int:
    """Run the wizard in this terminal and return the exit code (130 after Ctrl+C)."""
    theme = None
    if not os.environ.get("TEXTUAL_THEME") and os.environ.get("COLORTERM", "").lower() not in ("truecolor", "24bit"):
        theme = "ansi-dark"
    fake_cloud = demo_cloud(settings.demo) if settings.demo else None
    # Start-up allocates tens of thousands of long-lived objects (modules, classes, styles, widgets):
    # set aside what is loaded (gc.freeze) and pause the cyclic collector until the first screen is
    # drawn, so no full collection walks them meanwhile (the first screen appears ~30 ms sooner).
    gc.freeze()
    gc.disable()
    try:
        app = WizardApp(settings, restart=restart, theme=theme, fake_cloud=fake_cloud, preload=True)
    except BaseException:  # e.g. TenantInUse: the collector must not stay off
        gc.enable()
        raise
    try:
        with end_app_on_signals(lambda code: (app.save_progress(), app.exit(code))):  # SIGTERM, SIGHUP
            result = app.run()
    except KeyboardInterrupt:
        app.save_progress()
        return int(ExitCode.INTERRUPTED)
    finally:
        gc.enable()  # in case the app ended before its first screen was drawn
    if result is None:  # the app ended without choosing a code: an internal failure if it crashed
        return int(ExitCode.USAGE) if app.return_code else int(ExitCode.READY)
    return int(result)
