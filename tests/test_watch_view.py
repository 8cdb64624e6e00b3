"""Pilot tests of the watching steps (issue 16 item 10): a countdown that moves with the app's clock,
looks counted once across restarts of the watch, and no stale promise left once the watch saw it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from screens.watch import WatchingStep
from tests.test_snap_support import STATE_DIR, Choices, resume, save_progress
from tests.test_wizard_support import FROZEN_CLOCK, make_app, wait_for


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = FROZEN_CLOCK

    def __call__(self) -> float:
        return self.now


def _text(screen: WatchingStep, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_licence_watch_counts_down_counts_looks_once_and_clears_the_demo_promise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_progress("fresh", "license", Choices(confirm_licence=False))
    app = make_app(STATE_DIR, "fresh", no_wait=True)
    clock = Clock()
    app.clock = clock
    async with app.run_test(size=(80, 24)) as pilot:
        await resume(app, pilot, "license")
        screen = app.screen
        assert isinstance(screen, WatchingStep)
        await wait_for(pilot, lambda: screen.rounds == 1 and screen.next_look_at is not None, timeout=10)
        await wait_for(pilot, lambda: "Looking again in 5 s (round 1 done)" in _text(screen, "#watch-status"))
        clock.now += 2
        await wait_for(pilot, lambda: "Looking again in 3 s (round 1 done)" in _text(screen, "#watch-status"))
        before_seen: list[str] = []
        seen = screen.watch_seen

        def spy() -> None:
            before_seen.append(_text(screen, "#portal-status"))
            seen()

        screen.watch_seen = spy  # type: ignore[method-assign]
        await pilot.press("p")  # the demo places the order; the watch looks again at once
        await wait_for(pilot, lambda: not screen.watching, timeout=10)
        assert len(before_seen) == 1 and "the watch should see it at its next look" in before_seen[0]
        assert screen.rounds == 2
        assert "Seen at round 2" in _text(screen, "#watch-status")
        assert _text(screen, "#portal-status") == ""
