"""A watch: re-read some checks now, then again with growing pauses (the engine's), until they are
done or the step is left. Shared by the licence and the service provider access steps.

The watching runs in a thread worker of the screen (group ``watch``): each round posts a
:class:`~screens.messages.WatchUpdate`; leaving the step or pressing w cancels it at once.

While it watches, the status line moves: a spinner while a look is under way, a countdown to the
next look between rounds. Both read the app's clock (``WizardApp.clock``), so a frozen clock (the
snapshots') draws the same picture every time. Rounds are counted once per visit of the step: a look
started again (r, p) goes on counting.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual import on, work
from textual.widgets import Static
from textual.worker import get_current_worker

from dex_tui.demo_controls import PORTAL_REFUSED
from dex_tui.engine import WATCH_INTERVALS
from dex_tui.errors import Interrupted
from dex_tui.results import CheckResult
from screens import messages as msg
from screens.base import StepScreen
from screens.text import plain
from screens.workers import as_dex_error

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK = 0.2  # seconds between redraws of the status line while watching


def pause_after(round_number: int) -> float:
    """The engine's pause after round ``round_number`` (1-based)."""
    return WATCH_INTERVALS[min(round_number, len(WATCH_INTERVALS)) - 1]


class WatchingStep(StepScreen):
    """A step that watches the checks its flow entry names (``watches``) until :meth:`watch_done`.

    ``rounds`` counts the looks taken on this visit of the step; ``next_look_at`` is when the next
    one starts (app clock; None while a look is under way or when not watching).
    """

    def __init__(self) -> None:
        super().__init__()
        self.watching = False
        self.rounds = 0
        self._watch_rounds = 0  # rounds of the current watch: the engine's pauses follow these
        self.next_look_at: float | None = None
        self._demo_promised = False  # the demo action's line says the watch will see it

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(TICK, self._tick, name="watch status")

    @property
    def watch_ids(self) -> tuple[str, ...]:
        return self.step.watches

    def start_watch(self) -> None:
        """(Re)start watching with a look right now."""
        self.watching = True
        self._watch_rounds = 0
        self.next_look_at = None
        self._watch()
        self.refresh_bindings()
        self._tick()

    def stop_watch(self) -> None:
        self.watching = False
        self.next_look_at = None
        self.workers.cancel_group(self, "watch")
        self.refresh_bindings()

    def action_toggle_watch(self) -> None:
        if self.watching:
            self.stop_watch()
            self.watch_changed("Watching stopped. w watches again, r looks once now.")
        else:
            self.start_watch()

    def action_look_now(self) -> None:
        self.start_watch()

    def watch_progress(self) -> Text:
        """Where the watch is: a spinner and the look under way, or a countdown to the next look."""
        now = self.wizard.clock()
        spinner = SPINNER[int(now / TICK) % len(SPINNER)]
        if self.next_look_at is None:
            return plain(f"{spinner} Looking now (round {self.rounds + 1})…", style="bold")
        seconds = max(0, math.ceil(self.next_look_at - now))
        return plain(f"{spinner} Looking again in {seconds} s", style="bold") + plain(
            f" (round {self.rounds} done).", style="italic")

    def _tick(self) -> None:
        if self.watching and self.is_mounted:
            line = self.watch_status_line()
            if line is not None:
                self.query_one("#watch-status", Static).update(line)

    def watch_status_line(self) -> Text | None:
        """The status line while watching (None: leave it as it is); the steps add their own words."""
        return None

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch")
    def _watch(self) -> None:
        worker = get_current_worker()

        def round_done(results: list[CheckResult]) -> None:
            self.post_message(msg.WatchUpdate(self.STEP_ID, results))

        try:
            self.wizard.watch_checks(self.watch_ids, self.watch_done, round_done,
                                     is_cancelled=lambda: worker.is_cancelled)
        except Interrupted:
            return
        except Exception as exc:  # every failure goes to the error dialog; the watch stops
            if not worker.is_cancelled:
                self.post_message(msg.WorkerFailed(as_dex_error(exc), "watch"))

    @on(msg.WatchUpdate)
    def _updated(self, message: msg.WatchUpdate) -> None:
        message.stop()
        if not self.watching:
            return
        self.rounds += 1
        self._watch_rounds += 1
        pause = pause_after(self._watch_rounds)
        self.next_look_at = self.wizard.clock() + pause
        self.wizard.merge_results(message.results)
        if self.watch_done(message.results):
            self.watching = False
            self.next_look_at = None
            self.refresh_bindings()
            self.watch_seen()
        self.watch_changed(None, next_in=pause)

    @on(msg.WorkerFailed)
    def _watch_failed(self, message: msg.WorkerFailed) -> None:
        if message.group != "watch":
            return
        message.stop()
        self.watching = False
        self.next_look_at = None
        self.refresh_bindings()
        self.watch_changed("Watching stopped after an error. r looks again.")
        self.wizard.show_error(message.error)

    def watch_done(self, results: list[CheckResult]) -> bool:
        """Whether the watched checks look finished (the watch then stops)."""
        return False

    def watch_seen(self) -> None:
        """The watch saw what it waited for: a demo action's "the watch should see it" is no longer
        true, so its line goes."""
        statuses = self.query("#portal-status")
        if statuses and self._demo_promised:
            statuses.first(Static).update("")
            self._demo_promised = False

    def action_demo_action(self) -> None:
        super().action_demo_action()
        statuses = self.query("#portal-status")
        self._demo_promised = bool(statuses) and not str(statuses.first(Static).render()).startswith(PORTAL_REFUSED)

    def watch_changed(self, note: str | None, next_in: float = 0.0) -> None:
        """Redraw after a round (or with ``note`` when the watch stopped)."""
