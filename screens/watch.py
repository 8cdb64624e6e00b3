"""A watch: re-read some checks now, then again with growing pauses (the engine's), until they are
done or the step is left. Shared by the licence and the service provider access steps.

The watching runs in a thread worker of the screen (group ``watch``): each round posts a
:class:`~screens.messages.WatchUpdate`; leaving the step or pressing w cancels it at once.
"""

from __future__ import annotations

from textual import on, work
from textual.worker import get_current_worker

from dex_tui.engine import WATCH_INTERVALS
from dex_tui.errors import Interrupted
from dex_tui.results import CheckResult
from screens import messages as msg
from screens.base import StepScreen
from screens.workers import as_dex_error


def pause_after(round_number: int) -> float:
    """The engine's pause after round ``round_number`` (1-based)."""
    return WATCH_INTERVALS[min(round_number, len(WATCH_INTERVALS)) - 1]


class WatchingStep(StepScreen):
    """A step that watches the checks its flow entry names (``watches``) until :meth:`watch_done`."""

    def __init__(self) -> None:
        super().__init__()
        self.watching = False
        self.rounds = 0

    @property
    def watch_ids(self) -> tuple[str, ...]:
        return self.step.watches

    def start_watch(self) -> None:
        """(Re)start watching with a look right now."""
        self.watching = True
        self.rounds = 0
        self._watch()
        self.refresh_bindings()

    def stop_watch(self) -> None:
        self.watching = False
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
        self.wizard.merge_results(message.results)
        if self.watch_done(message.results):
            self.watching = False
            self.refresh_bindings()
        self.watch_changed(None, next_in=pause_after(self.rounds))

    @on(msg.WorkerFailed)
    def _watch_failed(self, message: msg.WorkerFailed) -> None:
        if message.group != "watch":
            return
        message.stop()
        self.watching = False
        self.refresh_bindings()
        self.watch_changed("Watching stopped after an error. r looks again.")
        self.wizard.show_error(message.error)

    def watch_done(self, results: list[CheckResult]) -> bool:
        """Whether the watched checks look finished (the watch then stops)."""
        return False

    def watch_changed(self, note: str | None, next_in: float = 0.0) -> None:
        """Redraw after a round (or with ``note`` when the watch stopped)."""
