"""The wizard's session, headless: where the operator is, what they decided, who is signed in, the
check results, and the files that keep them (progress, audit trail).

The Textual App (``screens/app.py``) is a shell around one :class:`WizardSession`: it runs the blocking
parts (sign-in, check runs, watches, report writes) in workers, feeds what they return back in through
these methods, and draws. Everything the wizard decides is decided here, so it is tested without a
terminal (``tests/test_session.py`` walks the XDR and the Hunting flows with Textual never imported) and
other front ends (``dex-tui check``, a later SSH front end) can reuse it.

Threading: every method runs on one thread (the UI's). The blocking ones say so (``run_checks``,
``watch``); the App calls :meth:`CheckRun.execute` and :meth:`WizardSession.watch` from workers.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dex_tui.answers import Acknowledgement, Answers, Confirmation, clean_by, utc_now_iso
from dex_tui.audit import AuditTrail, AuditWriteError, audit_path, events_for
from dex_tui.errors import DexError, ExitCode
from dex_tui.flow import SKIP_ACKNOWLEDGEMENT, Flow, FlowState, default_flow
from dex_tui.progress import Progress, ProgressStore, TenantInUse, tenant_key
from dex_tui.records import dataclass
from dex_tui.settings import Settings

if TYPE_CHECKING:  # the sign-in, Graph and checks stack loads after the first screen (start-up time)
    from datetime import date

    from dex_tui.acknowledgements import Outcome
    from dex_tui.auth import SignedIn, SignInRequired
    from dex_tui.demo import FakeCloud
    from dex_tui.demo_controls import DemoControls
    from dex_tui.drift import Drift
    from dex_tui.engine import Checker
    from dex_tui.facts import TenantFacts
    from dex_tui.mdr_candidates import ExclusionCandidates
    from dex_tui.results import CheckResult
    from dex_tui.runs import RunStore
    from dex_tui.runtime import Runtime
    from dex_tui.token_cache import TokenCacheStore

Notify = Callable[["Notice"], None]
SESSION_ENDED_KIND = "session-ended"  # a read failed because the saved sign-in no longer works


@dataclass(frozen=True)
class Notice:
    """Something the operator should be told now (the App shows it as a toast)."""

    text: str
    severity: Literal["information", "warning", "error"] = "information"
    timeout: float | None = None  # seconds on screen (None: the front end's default)


@dataclass(frozen=True)
class SessionEnded:
    """The saved sign-in stopped working (revoked or expired): the operator signs in again on ``step``,
    then comes back to ``resume_to``. ``error`` is what to show."""

    error: SignInRequired
    step: str
    resume_to: str | None
    moved: bool = True  # False when the operator was on the sign-in step already


@dataclass(frozen=True)
class CheckRunEnd:
    """How a check run ended: the session ended (sign in again), some reads failed (one error to show),
    or neither."""

    ended: SessionEnded | None = None
    problem: DexError | None = None


@dataclass(frozen=True)
class OpenBlocker:
    """A blocker check that failed or could not be evaluated when the operator leaves a step."""

    id: str
    title: str
    status: str  # "fail" or "unknown"
    summary: str


@dataclass(frozen=True)
class Move:
    """Where :meth:`WizardSession.go_next` leads: ``blocked`` (the reason), ``ask`` (open blockers the
    operator must decide to go past first; nothing moved), ``finished`` (the exit code of the run, as
    ``dex-tui check``) or on to ``step``."""

    step: str | None = None
    blocked: str | None = None
    finished: int | None = None
    ask: tuple[OpenBlocker, ...] = ()


@dataclass
class CheckRun:
    """One run of every check, started by :meth:`WizardSession.begin_checks`."""

    checker: Checker
    number: int
    answers: Answers

    def execute(self, on_result: Callable[[CheckResult], None] | None = None,
                is_cancelled: Callable[[], bool] | None = None) -> list[CheckResult]:
        """Blocking (a worker thread): read the tenant and evaluate; ``on_result`` per result as it comes."""
        return self.checker.run(self.answers, on_result=on_result, is_cancelled=is_cancelled)


@dataclass
class _Collected:
    notices: list[Notice] = field(default_factory=list)

    def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)


def local_user() -> str:
    try:
        return f"local user {getpass.getuser()}"
    except (OSError, KeyError):
        return "local user"


def session_ended(facts: TenantFacts) -> bool:
    """Whether reads failed because the saved sign-in no longer works (the read's kind says so)."""
    return any(not read.ok and read.kind == SESSION_ENDED_KIND for read in facts.reads.values())


class WizardSession:
    """One operator's run of the wizard over one flow (an edition's steps).

    Holds the tenant's lock from construction to :meth:`close`: :class:`~dex_tui.progress.TenantInUse`
    when another dex-tui has the tenant open.
    """

    def __init__(self, settings: Settings, *, flow: Flow | None = None, restart: bool = False,
                 now_iso: Callable[[], str] | None = None, demo: DemoControls | None = None,
                 fake_cloud: FakeCloud | None = None, cache_store: TokenCacheStore | None = None,
                 graph_options: dict[str, Any] | None = None, notify: Notify | None = None) -> None:
        """``demo`` (or ``fake_cloud``, wrapped) is the demo tenant; by default the scenario of
        ``settings.demo``. ``now_iso`` stamps confirmations (default: the wall clock, or the scenario's
        fixed time). ``notify`` receives the notices (default: kept in :attr:`notices`)."""
        self.settings = settings
        self.flow = flow or default_flow()
        if demo is None and fake_cloud is not None:
            from dex_tui.demo_controls import DemoControls

            demo = DemoControls(fake_cloud)
        if demo is None and settings.demo:
            from dex_tui.demo_controls import DemoControls

            demo = DemoControls.for_scenario(settings.demo)
        self.demo = demo
        self.now_iso: Callable[[], str] = now_iso or (demo.now if demo is not None else utc_now_iso)
        self._collected = _Collected()
        self.notify: Notify = notify or self._collected
        self._cache_store = cache_store
        self._graph_options = dict(graph_options or {})
        self._runtime: Runtime | None = None
        self.state_dir = settings.resolved_state_dir()
        self.tenant_choice: str | None = settings.tenant
        self.cloud_choice: str | None = settings.cloud
        self.state = FlowState(step=self.flow.first(), flow=self.flow)
        self.signed: SignedIn | None = None
        self.checker: Checker | None = None
        self.results: dict[str, CheckResult] = {}
        self.checks_running = False
        self.checked_at = ""
        self.check_run = 0
        self.exports: list[tuple[str, str]] = []
        self.last_export: tuple[str, str] | None = None  # the path typed for the last export, and its format
        self.passed_blockers: dict[str, str] = {}  # check id -> the status the operator chose to go past
        self.saved_tenant_id: str | None = None
        self.needs_new_code = False  # the cached sign-in stopped working: skip the account picker
        self.resume_to: str | None = None
        self.notice: str | None = None  # shown once, on the first screen
        self.store: ProgressStore | None = None
        self._open_store()
        self._load_progress(restart)

    @property
    def notices(self) -> list[Notice]:
        """The notices given so far (when no ``notify`` was passed)."""
        return self._collected.notices

    # -- progress and audit ------------------------------------------------------------------------

    def _key(self) -> str:
        return tenant_key(self.tenant_choice, self.settings.demo)

    def _open_store(self) -> None:
        """This tenant's progress and audit files, holding its lock (TenantInUse: another dex-tui has it)."""
        store = ProgressStore(self.state_dir, self._key(), clock=self.now_iso, flow=self.flow)
        store.acquire()
        if self.store is not None:
            self.store.release()
        self.store = store
        self.audit = AuditTrail(audit_path(self.state_dir, self._key()), clock=self.now_iso,
                                events=events_for(self.flow))
        self._runs: RunStore | None = None

    @property
    def runs(self) -> RunStore:
        """This tenant's kept runs (for "Changes since"), opened on first use: not before the first frame."""
        if self._runs is None:
            from dex_tui.runs import RunStore

            self._runs = RunStore(self.state_dir, self._key())
        return self._runs

    @property
    def progress_store(self) -> ProgressStore:
        assert self.store is not None  # opened in __init__
        return self.store

    def close(self) -> None:
        """The run ends: give the tenant's lock back and close the runtime's connections."""
        self.progress_store.release()
        if self._runtime is not None:
            self._runtime.close()

    def _load_progress(self, restart: bool) -> None:
        if restart:
            if self.progress_store.clear():
                self.audit.record("progress_restarted", by=local_user())
            return
        loaded = self.progress_store.load()
        self.notice = loaded.notice
        saved = loaded.progress
        if saved is None:
            return
        self.cloud_choice = self.cloud_choice or saved.cloud
        self.saved_tenant_id = saved.tenant_id
        step = self.flow.applicable_step(saved.step, saved.answers.service)
        self.state = FlowState(step=self.flow.first(), answers=saved.answers, completed=frozenset(saved.completed),
                               flow=self.flow)
        if step in self.flow.steps_before_session():
            self.state = replace(self.state, step=step)
        else:
            self.resume_to = step
            self.state = replace(self.state, step=self.flow.sign_in_step())
            self.notice = (self.notice + "\n" if self.notice else "") + (
                f"Welcome back: you were on '{self.flow.get(step).title}'. Sign in to continue there "
                "(run with --restart to start over).")

    def save_progress(self) -> None:
        """Save where the operator is and what they decided; a failure is a notice, never lost silently."""
        store = self.progress_store
        step = self.resume_to or self.state.step
        tenant_id = self.signed.tenant_id if self.signed else self.saved_tenant_id
        try:
            store.save(Progress(step=step, answers=self.state.answers, completed=tuple(sorted(self.state.completed)),
                                cloud=self.cloud_choice, tenant_id=tenant_id))
        except OSError as exc:
            self.notify(Notice(f"Progress could not be saved to {store.path}: {exc.strerror}", "error"))
        except TenantInUse as busy:
            self.notify(Notice(f"Progress was not saved: {busy.explanation}", "error"))

    @property
    def operator(self) -> str:
        """Who is signed in (their user principal name), for confirmations and the audit trail."""
        return (self.signed.username if self.signed else "") or local_user()

    def confirmation(self) -> Confirmation:
        return Confirmation(by=clean_by(self.operator), at=self.now_iso())

    def today(self) -> date:
        """The session's day (UTC; in demo mode the scenario's): the day expiries are judged on."""
        from dex_tui.stamps import parse_moment

        return parse_moment(self.now_iso(), "the session's clock").date()

    def record(self, event: str, **details: Any) -> None:
        """One audit event; a write that fails is an error notice (the decision itself stands)."""
        try:
            self.audit.record(event, by=self.operator, tenant_id=self.signed.tenant_id if self.signed else None,
                              **details)
        except AuditWriteError as failed:
            self.notify(Notice(failed.one_line(), "error", 30))
        for notice in self.audit.pop_notices():
            self.notify(Notice(notice, "warning", 30))

    # -- decisions ---------------------------------------------------------------------------------

    def set_answers(self, answers: Answers) -> SessionEnded | None:
        """New answers: saved at once, and the checks that read them evaluated again."""
        self.state = self.state.with_answers(answers)
        self.save_progress()
        return self.reevaluate()

    def confirm(self, step_id: str, **details: Any) -> SessionEnded | None:
        """Record the operator's confirmation for ``step_id`` (its ``confirms`` in the flow) and its
        audit event with ``details``."""
        confirms = self.flow.get(step_id).confirms
        if confirms is None:
            raise ValueError(f"step {step_id!r} confirms nothing")
        ended = self.set_answers(self.state.answers.confirmed(step_id, self.confirmation()))
        self.record(confirms.event, **details)
        return ended

    def record_choice(self, step_id: str, change: Callable[[Answers, Confirmation], Answers],
                      **details: Any) -> SessionEnded | None:
        """Record what the operator chose on ``step_id`` that no API shows (today's MDR levels, exclusions,
        contacts and Teams; Hunting's contacts and sample notification): ``change`` gives the new answers
        from the current ones and who/when; that who/when is also the step's confirmation (its
        ``confirms`` in the flow, kept under the step id), and its audit event is recorded with ``details``."""
        confirms = self.flow.get(step_id).confirms
        if confirms is None:
            raise ValueError(f"step {step_id!r} confirms nothing")
        stamp = self.confirmation()
        ended = self.set_answers(change(self.state.answers, stamp).confirmed(step_id, stamp))
        self.record(confirms.event, **details)
        return ended

    def decide_role(self, role: str, granted: bool, *, reason: str = "",
                    expires: date | None = None) -> SessionEnded | None:
        """Grant or skip an optional role. A skip carries the operator's acknowledgement (who, when,
        and in the wizard why and until when: ``reason``, ``expires``); each change of decision is
        recorded in the audit trail at once. A skip with a reason is checked like any acknowledgement
        (:meth:`check_acknowledgement`: AcknowledgementRefused, nothing changed)."""
        key = SKIP_ACKNOWLEDGEMENT[role]
        if not granted and reason:
            reason = self.check_acknowledgement(None, reason, expires)
        previous = self.state.answers.roles.get(role)
        answers = self.state.answers.with_role(role, granted)
        before = answers.acknowledgements.get(key)
        if granted:
            answers = answers.without_acknowledgement(key)
        elif before is None or reason:
            confirmed = self.confirmation()
            answers = answers.acknowledged(Acknowledgement(key, confirmed.by, confirmed.at, reason, expires))
        ended = self.set_answers(answers)
        ack = answers.acknowledgements.get(key)
        if previous == granted and ack == before:
            return ended
        if granted:
            self.record("role_granted", role=role)
            return ended
        from dex_tui.catalogue import catalogue

        info = catalogue().role(role)
        assert ack is not None  # a skip always carries its acknowledgement (above)
        self.record("role_skipped", role=role, acknowledged_by=ack.by, acknowledged_at=ack.at,
                    reason=ack.reason or None, expires=ack.expires.isoformat() if ack.expires else None,
                    lost=list(info.lost_actions or info.adds))
        return ended

    # -- acknowledgements of checks (dex_tui.acknowledgements) -------------------------------------

    def check_acknowledgeable(self, check_id: str) -> None:
        """:class:`~dex_tui.acknowledgements.AcknowledgementRefused` when ``check_id`` cannot be
        acknowledged as it stands (no result yet, a blocker, nothing to acknowledge, the roles check)."""
        from dex_tui.acknowledgements import ROLES_CHECK, AcknowledgementRefused, acknowledgeable

        result = self.results.get(check_id)
        if check_id == ROLES_CHECK:
            raise AcknowledgementRefused(
                "A skipped role is acknowledged where it is skipped.",
                next_step="Go to Manage permissions and skip the role again with a reason, or grant it.")
        if result is None:
            raise AcknowledgementRefused(f"The check {check_id} has no result yet.",
                                         next_step="Wait for the checks to finish, then acknowledge it.")
        if not acknowledgeable(result):
            why = (f"it is a blocker that is {result.status.value}: blockers cannot be acknowledged"
                   if result.status.value in ("fail", "unknown") else f"it is {result.status.value}: "
                   "nothing needs acknowledging")
            raise AcknowledgementRefused(f"{result.title} cannot be acknowledged: {why}.",
                                         next_step="Fix what the check reports, then run the checks again.")

    def check_acknowledgement(self, check_id: str | None, reason: str, expires: date | None) -> str:
        """The reason, trimmed, when ``check_id`` (None: a role skip) may be acknowledged with it until
        ``expires``; :class:`~dex_tui.acknowledgements.AcknowledgementRefused` saying why not otherwise."""
        from dex_tui.acknowledgements import MAX_REASON, AcknowledgementRefused

        if check_id is not None:
            self.check_acknowledgeable(check_id)
        reason = " ".join(reason.split())
        if not reason:
            raise AcknowledgementRefused("An acknowledgement needs a reason.",
                                         next_step="Say why the deviation is accepted, e.g. who decided it and until when.")
        if len(reason) > MAX_REASON:
            raise AcknowledgementRefused(f"The reason is longer than {MAX_REASON} characters.",
                                         next_step="Shorten it; the report and the audit trail keep it whole.")
        if expires is not None and expires <= self.today():
            raise AcknowledgementRefused(
                f"The expiry {expires.isoformat()} is not after today ({self.today().isoformat()}): the "
                "acknowledgement would have expired already.", next_step="Give a later date, or none.")
        return reason

    def acknowledge(self, check_id: str, reason: str, expires: date | None = None) -> SessionEnded | None:
        """Accept ``check_id``'s warning (a recommended or info check's, or a blocker-severity check's
        warning) with ``reason``, until ``expires`` (None: no expiry); saved at once and audited.
        Raises :class:`~dex_tui.acknowledgements.AcknowledgementRefused` (nothing changed) for a
        blocker, a check that needs nothing, a missing reason or an expiry that is not after today."""
        reason = self.check_acknowledgement(check_id, reason, expires)
        confirmed = self.confirmation()
        ack = Acknowledgement(check_id, confirmed.by, confirmed.at, reason, expires)
        ended = self.set_answers(self.state.answers.acknowledged(ack))
        self.record("check_acknowledged", check=check_id, reason=reason,
                    expires=expires.isoformat() if expires else None)
        return ended

    def withdraw_acknowledgement(self, check_id: str) -> SessionEnded | None:
        """Take back the acknowledgement of ``check_id`` (it counts again); audited. Nothing happens
        when there is none."""
        if check_id not in self.state.answers.acknowledgements:
            return None
        ended = self.set_answers(self.state.answers.without_acknowledgement(check_id))
        self.record("acknowledgement_withdrawn", check=check_id)
        return ended

    def acknowledgement_outcomes(self) -> list[Outcome]:
        """What became of each acknowledgement today, against the latest results."""
        from dex_tui.acknowledgements import evaluate

        return evaluate(self._ordered_results(), self.state.answers.waivers(), self.today(), self.state.answers)

    def _ordered_results(self) -> list[CheckResult]:
        """The latest results of this service's checks, in catalogue order."""
        from dex_tui.catalogue import check_ids_for

        return [self.results[i] for i in check_ids_for(self.state.answers.service) if i in self.results]

    def skipped_roles_shown(self, step_id: str) -> list[tuple[str, Acknowledgement | None]]:
        """The skipped roles (and who acknowledged each) to warn about on ``step_id``: every step after
        the roles step, up to the end."""
        answers = self.state.answers
        levels_step = next((s for s in self.flow.steps if s.gate == "access_levels"), None)
        if (answers.mdr is not None and answers.mdr.operator_skipped and levels_step is not None
                and levels_step.applies_to(answers.service) and self.flow.is_after(step_id, levels_step.id)):
            ack = answers.mdr.operator_skip_acknowledged  # MDR: Security Operator left out on Permissions
            return [("security_operator", Acknowledgement(SKIP_ACKNOWLEDGEMENT["security_operator"], ack.by, ack.at)
                     if ack is not None else None)]
        roles_step = self.flow.roles_step()
        if (roles_step is None or not self.flow.get(roles_step).applies_to(answers.service)
                or not self.flow.is_after(step_id, roles_step)):
            return []
        return [(role, answers.acknowledgements.get(SKIP_ACKNOWLEDGEMENT[role])) for role in answers.skipped_roles()]

    def choose_target(self, *, service: str, cloud: str | None, tenant: str | None,
                      before_drop: Callable[[], None] | None = None) -> bool:
        """Welcome-step choices. A different tenant or cloud ends this run's session (sign in again;
        ``before_drop`` runs first, to stop what uses the runtime); a different tenant also switches to
        that tenant's progress and audit files. Raises :class:`TenantInUse` (nothing changed) when
        another dex-tui has that tenant open. True when a check run must start (another service, and no
        results to evaluate again)."""
        target_changed = tenant != self.tenant_choice or cloud != self.cloud_choice
        if tenant != self.tenant_choice:
            previous, self.tenant_choice = self.tenant_choice, tenant
            try:
                self._open_store()
            except TenantInUse:  # nothing changes: the operator picks another tenant or closes that one
                self.tenant_choice = previous
                raise
        if target_changed:
            if before_drop is not None and self._runtime is not None:
                before_drop()
            self.drop_runtime()
        changed_service = service != self.state.answers.service
        self.cloud_choice = cloud
        self.set_answers(replace(self.state.answers, service=service))
        return changed_service and self.service_changed()

    # -- runtime and sign-in -----------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The run's runtime for the chosen tenant and cloud (built without network I/O)."""
        if self._runtime is None:
            from dex_tui.runtime import WIZARD_CLOUD_HINT, Runtime

            settings = replace(self.settings, tenant=self.tenant_choice, cloud=self.cloud_choice)
            self._runtime = Runtime(settings, fake_cloud=self.demo.cloud if self.demo is not None else None,
                                    cache_store=self._cache_store, cloud_hint=WIZARD_CLOUD_HINT)
        return self._runtime

    def drop_runtime(self) -> None:
        """The tenant or cloud changed: nobody is signed in, the results go (the App cancels workers)."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self.signed = None
        self.forget_results()

    def signed_in(self, signed: SignedIn) -> None:
        """Sign-in finished: remember who, notice a tenant change, save (the caller starts the checks)."""
        if self.saved_tenant_id and signed.tenant_id and signed.tenant_id != self.saved_tenant_id:
            self.notify(Notice("The saved progress belonged to another tenant; its answers were cleared.", "warning"))
            self.state = FlowState(step=self.flow.sign_in_step(), answers=Answers(service=self.state.answers.service),
                                   flow=self.flow)
            self.resume_to = None
        self.signed = signed
        self.needs_new_code = False
        self.saved_tenant_id = signed.tenant_id
        self.save_progress()

    def cloud_note(self) -> str:
        """The cloud in use and how it was chosen (after sign-in the choice is cached: no network)."""
        if self._runtime is None or self.signed is None:
            return ""
        choice = self._runtime.resolve_cloud()
        how = {"option": "as chosen", "detected": "detected from the tenant's metadata, a hint",
               "assumed": "assumed, nothing could be detected"}.get(choice.source, choice.source)
        return f"{choice.cloud.label} ({how})"

    def sign_in_again(self) -> SessionEnded:
        """The saved sign-in stopped working: back to the sign-in step with a new code, then on to the
        step the operator was on, with fresh results."""
        from dex_tui.auth import SignInRequired

        step = self.state.step
        self.resume_to = None if step in self.flow.steps_before_session() else step
        self.signed = None
        self.needs_new_code = True
        self.forget_results()
        self.save_progress()
        sign_in = self.flow.sign_in_step()
        if step != sign_in:
            self.goto(sign_in)
        return SessionEnded(SignInRequired(
            "Your sign-in no longer works: it was revoked or has expired, so the checks could not read your "
            "tenant.", next_step="Sign in again with the new code on the Sign in step; you then come back to "
                                 "where you were."), sign_in, self.resume_to, moved=step != sign_in)

    # -- checks ------------------------------------------------------------------------------------

    def begin_checks(self) -> CheckRun | None:
        """Start a run of every check (None: nobody is signed in). The results so far are dropped."""
        if self.signed is None:
            return None
        if self.checker is None:
            from dex_tui.engine import Checker

            # After sign-in the cloud is resolved and cached, so building the checker does no I/O.
            self.checker = Checker.for_runtime(self.runtime, **self._graph_options)
        self.check_run += 1
        self.results = {}
        self.checks_running = True
        return CheckRun(self.checker, self.check_run, self.state.answers)

    def result_arrived(self, result: CheckResult, run: int) -> bool:
        """One streamed result of run ``run``; False when it belongs to an older run (dropped)."""
        if run != self.check_run:
            return False
        self.results[result.id] = result
        return True

    def checks_finished(self, results: list[CheckResult], run: int,
                        again: str = "run the checks again") -> CheckRunEnd | None:
        """Run ``run`` ended with ``results`` (empty when it failed); None when it was an older run.
        ``again`` is how the front end runs the checks again from where the operator is (for the error)."""
        if run != self.check_run:
            return None
        self.results.update({result.id: result for result in results})
        self.checks_running = False
        self.checked_at = self.now_iso()
        ended = self.reevaluate()  # answers given while the run was going (kept, see merge_results)
        if results and self.signed is not None and ended is None:
            self._keep_run()
        if ended is not None:
            return CheckRunEnd(ended=ended)
        if self.checker is None:
            return CheckRunEnd()
        if session_ended(self.checker.facts):
            return CheckRunEnd(ended=self.sign_in_again())
        from dex_tui.read_problems import failed_reads_error

        return CheckRunEnd(problem=failed_reads_error(self.checker.facts, again) if results else None)

    def run_checks(self, is_cancelled: Callable[[], bool] | None = None) -> CheckRunEnd | None:
        """Blocking: one whole run of every check, for front ends without workers (and tests)."""
        run = self.begin_checks()
        if run is None:
            return None
        return self.checks_finished(run.execute(is_cancelled=is_cancelled), run.number)

    def merge_results(self, results: list[CheckResult]) -> SessionEnded | None:
        """New results for some checks (a watch round); the others stay."""
        self.results.update({result.id: result for result in results})
        if self.checker is not None and self.signed is not None and session_ended(self.checker.facts):
            return self.sign_in_again()
        if results and self.signed is not None and not self.checks_running:
            self._keep_run()
        return None

    def reevaluate(self) -> SessionEnded | None:
        """Evaluate again, without the network, the checks that read the operator's answers (the checks
        the flow's steps settle)."""
        if self.checker is not None and not self.checks_running and self.results:
            from dex_tui.catalogue import check_ids_for

            reported = set(check_ids_for(self.state.answers.service))  # not another service's own checks
            ids = [i for i in self.flow.answer_checks() if i in reported]
            return self.merge_results(self.checker.reevaluate(self.state.answers, ids=ids))
        return None

    def forget_results(self) -> None:
        """Drop check results and the facts behind them (the tenant or cloud changed)."""
        self.checker = None
        self.results = {}
        self.checks_running = False
        self.check_run += 1

    def service_changed(self) -> bool:
        """Another service: the facts stay, every check is evaluated again for it (no network). True when
        a new run must start instead (the caller starts it)."""
        if self.checker is not None and not self.checks_running and self.results:
            self.results = {r.id: r for r in self.checker.reevaluate(self.state.answers)}
            return False
        return self.signed is not None

    def watch(self, ids: tuple[str, ...], until: Callable[[list[CheckResult]], bool],
              on_round: Callable[[list[CheckResult]], None], is_cancelled: Callable[[], bool]) -> None:
        """Blocking (worker threads only): re-read ``ids`` with growing pauses until ``until``."""
        if self.checker is None:
            from dex_tui.auth import SignInRequired

            raise SignInRequired("Nobody is signed in.", next_step="Go back to the sign-in step.")
        # Reading self.state from the worker is safe: it is an immutable value replaced, never mutated.
        self.checker.watch(ids, lambda: self.state.answers, until=until, on_round=on_round,
                           is_cancelled=is_cancelled)

    def exclusion_candidates(self, is_cancelled: Callable[[], bool] | None = None) -> ExclusionCandidates:
        """Blocking (worker threads only): the tenant's device groups and security groups the MDR
        Exclusions step offers to pick from (``dex_tui.mdr_candidates``)."""
        if self.checker is None:
            from dex_tui.auth import SignInRequired

            raise SignInRequired("Nobody is signed in.", next_step="Go back to the sign-in step.")
        from dex_tui.mdr_candidates import read_exclusion_candidates

        return read_exclusion_candidates(self.checker.client, is_cancelled)

    # -- navigation --------------------------------------------------------------------------------

    def blocker(self, step_id: str | None = None) -> str | None:
        """Why Next is blocked on ``step_id`` (default: the current step)."""
        return self.flow.leave_blocker(step_id or self.state.step, self.state.answers,
                                       signed_in=self.signed is not None)

    def goto(self, step_id: str) -> None:
        self.notice = None  # start-up notices are shown on the first screen only
        self.state = replace(self.state, step=step_id)
        self.save_progress()

    def open_blockers(self, step_id: str | None = None) -> tuple[OpenBlocker, ...]:
        """The blocker checks that failed or are unknown and are due when leaving ``step_id`` (default:
        the current step), less those the operator already chose to go past with the same status.

        Due: after the sign-in step, every blocker no step settles (the prerequisites); a blocker a step
        settles (``checks`` in the flow, e.g. the access checks) from that step on, never before it.
        """
        from dex_tui.catalogue import ALL_CHECK_IDS
        from dex_tui.results import Severity, Status

        step_id = step_id or self.state.step
        if not self.flow.is_after(step_id, self.flow.sign_in_step()):
            return ()
        service = self.state.answers.service
        found: list[OpenBlocker] = []
        for check_id in ALL_CHECK_IDS:
            result = self.results.get(check_id)
            if (result is None or result.severity != Severity.BLOCKER
                    or result.status not in (Status.FAIL, Status.UNKNOWN)
                    or self.passed_blockers.get(check_id) == result.status.value):
                continue
            settling = self.flow.step_settling(check_id, service)
            if settling is None or settling.id == step_id or self.flow.is_after(step_id, settling.id):
                found.append(OpenBlocker(check_id, result.title, result.status.value, result.summary))
        return tuple(found)

    def go_next(self, go_past: tuple[str, ...] = ()) -> Move:
        """Move on from the current step; after sign-in, a resumed run jumps back to where it was.

        Open blockers (:meth:`open_blockers`) stop the move with ``Move.ask`` until the operator
        explicitly chooses to go on: ``go_past`` names the check ids they saw and accepted. Going past is
        recorded in the audit trail (``went_past_blockers``) and not asked again for the same status.
        """
        current = self.state.step
        try:
            moved = self.state.go_next(signed_in=self.signed is not None)
        except ValueError as reason:
            return Move(blocked=str(reason))
        last = self.flow.next_step(current, self.state.answers.service) is None
        # Finishing is not going past: the exit code and the summary say the verdict, blockers included.
        open_now = () if last else self.open_blockers(current)
        unaccepted = tuple(blocker for blocker in open_now if blocker.id not in go_past)
        if unaccepted:
            return Move(ask=open_now)
        if open_now:
            self.passed_blockers.update({blocker.id: blocker.status for blocker in open_now})
            self.record("went_past_blockers", step=current,
                        blockers=[{"id": b.id, "title": b.title, "status": b.status} for b in open_now])
        if last:
            self.state = moved
            self.save_progress()
            return Move(finished=self.readiness_exit_code())
        target = self.resume_to if current == self.flow.sign_in_step() and self.resume_to else moved.step
        self.resume_to = None
        self.state = moved
        self.goto(target)
        return Move(step=target)

    def go_back(self) -> str | None:
        before = self.flow.previous_step(self.state.step, self.state.answers.service)
        if before is not None:
            self.goto(before)
        return before

    def restart(self) -> None:
        """Forget the answers and go back to the first step; the audit trail keeps what was recorded."""
        self.progress_store.clear()
        self.record("progress_restarted")
        self.state = FlowState(step=self.flow.first(), flow=self.flow)
        self.resume_to = None
        self.notice = None
        self.forget_results()
        self.goto(self.flow.first())

    def readiness_exit_code(self) -> int:
        """As ``dex-tui check``: 0 ready, 1 warnings, 2 a blocker failed, 3 a blocker not evaluated; an
        acknowledged check (until it expires) does not count."""
        from dex_tui.acknowledgements import counting
        from dex_tui.report import exit_code_for

        if not self.results:
            return int(ExitCode.CANNOT_EVALUATE)
        return int(exit_code_for(counting(self._ordered_results(), self.acknowledgement_outcomes())))

    # -- demo --------------------------------------------------------------------------------------

    def demo_action(self, step_id: str) -> str | None:
        """The demo portal action of ``step_id``, when this run has a demo tenant and the step one."""
        step = self.flow.get(step_id)
        return step.demo.action if self.demo is not None and step.demo is not None else None

    def perform_demo(self, step_id: str) -> str:
        """Demo only: do in the fake tenant what the operator would do in ``step_id``'s portal."""
        action = self.demo_action(step_id)
        if action is None or self.demo is None:
            return ""
        return self.demo.perform(action, self.state.answers.service)

    # -- report ------------------------------------------------------------------------------------

    def build_report(self, *, compared: bool = True) -> dict[str, Any]:
        """The readiness report of the latest results (pure: no network), with the acknowledgements'
        outcomes and, when ``compared`` and a previous run of this tenant and service is kept, the
        changes since it (``dex_tui.drift``)."""
        from dex_tui.acknowledgements import attach
        from dex_tui.facts import CloudInfo, TenantFacts
        from dex_tui.report import build_report

        facts = self.checker.facts if self.checker is not None else TenantFacts(cloud=CloudInfo("commercial"))
        ordered = self._ordered_results()
        report = build_report(ordered, facts, self.state.answers, demo=self.settings.demo, signed_in=self.signed,
                              generated_at=self.now_iso())
        report = attach(report, ordered, self.acknowledgement_outcomes())
        drift = self.changes_since(report) if compared else None
        if drift is not None:
            from dex_tui import drift as drift_module

            report = drift_module.attach(report, drift)
        return report

    def changes_since(self, report: dict[str, Any] | None = None) -> Drift | None:
        """Every check against the newest run another session kept for this tenant and service (None:
        there is none, or it cannot be matched)."""
        from dex_tui.drift import PreviousReportError, compare

        report = report if report is not None else self.build_report(compared=False)
        if not report["checks"]:
            return None
        previous = self.runs.previous(str(report["tenant"]["id"]), str(report["service"]))
        if previous is None:
            return None
        try:
            return compare(report, previous)
        except PreviousReportError:
            return None

    def _keep_run(self) -> None:
        """Keep this run's report for the next session's "Changes since"; a failure is a notice."""
        try:
            self.runs.save(self.build_report(compared=False))
        except OSError as exc:
            self.notify(Notice(f"This run's report could not be kept in {self.runs.folder} for a later "
                               f"comparison ({exc.strerror or exc}).", "warning"))

    def default_report_name(self) -> str:
        from dex_tui.report import default_filename

        return default_filename(self.build_report(), "json")

    def can_export(self) -> bool:
        return self.signed is not None and bool(self.results) and not self.checks_running

    def check_report_path(self, path: str) -> Path:
        """Where an export to ``path`` (as typed: relative to the working directory, ``~`` allowed) would
        be written, links resolved; :class:`~dex_tui.errors.UsageError` in plain words (the wizard has
        no ``--output``) when it cannot be. Nothing is created."""
        from dex_tui.report import check_output_path

        return check_output_path(Path(path), option="")

    def write_report(self, report: dict[str, Any], path: str, fmt: str) -> str:
        """Blocking (a worker may call it): write ``report``; returns the absolute path written."""
        from dex_tui.report import write_report

        return str(write_report(report, Path(path), fmt, option="").resolve())

    def report_exported(self, path: str, fmt: str, verdict: str) -> None:
        """A report was written: remembered for the review and recorded in the audit trail."""
        self.exports.append((path, fmt))
        self.record("report_exported", path=path, format=fmt, verdict=verdict)
