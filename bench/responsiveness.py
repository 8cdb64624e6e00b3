"""Figure 4, responsiveness: the wizard runs (headless, 80x24, ``App.run_test``) while its checks run.

- Longest stall of the event loop: an asyncio task sleeps 5 ms over and over inside the app's loop and
  records how late each wake-up is; the stall is the worst lateness while ``app.checks_running``.
- Key press to next frame: while a re-run of the checks is in flight (the ``r`` key on the
  eligibility step), Down/Up keys are sent through the driver, as a terminal's input thread does;
  the time runs from sending the key to the first frame the compositor produces after the table's
  cursor action ran (``App._display``, which headless mode calls with the rendered update).

Two tenants: ``ready`` in demo mode (the fake cloud in this process, as ``dex-tui --demo`` runs), and
``large`` served over loopback HTTPS by another process, so this process runs only the product's code
(as against a real tenant). Both with the injected latency per request. The app is built as
``dex-tui`` builds it (``preload=True``: once the first screen is drawn, the later steps are imported
in the background and everything loaded is set aside from the cyclic garbage collector).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Figure, child_env, median, ms, sandbox

TICK = 0.005
KEY_GAP = 0.05


@dataclass
class Measures:
    phase: str = ""  # "first": sign-in done until the first run ends (the step change included); "rerun"
    stalls: list[tuple[float, float, str]] = field(default_factory=list)  # (when, lateness, phase)
    frames: list[float] = field(default_factory=list)
    keys: list[tuple[float, float]] = field(default_factory=list)  # (sent, handled)
    check_seconds: list[float] = field(default_factory=list)

    def worst_stall(self, phase: str | None) -> float:
        """The worst lateness of a wake-up in ``phase`` (None: at any time)."""
        return max((late for _, late, p in self.stalls if phase is None or p == phase), default=0.0)

    def wakeups(self, phase: str) -> int:
        return sum(1 for _, _, p in self.stalls if p == phase)

    def key_to_frame(self) -> list[float]:
        out = []
        for sent, handled in self.keys:
            frame = next((f for f in self.frames if f >= handled), None)
            if frame is not None:
                out.append(frame - sent)
        return out


@contextmanager
def instrumented(measures: Measures) -> Iterator[None]:
    """Record every frame the compositor renders and when the table's cursor actions run."""
    from textual.app import App
    from textual.widgets import DataTable

    display, down, up = App._display, DataTable.action_cursor_down, DataTable.action_cursor_up

    def frame(self: App[Any], screen: Any, renderable: Any) -> None:
        display(self, screen, renderable)
        if renderable is not None:
            measures.frames.append(time.monotonic())

    def wrap(action: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(self: Any) -> None:
            action(self)
            # Keys are handled in the order they were sent: this action answers the oldest one waiting.
            waiting = next((i for i, (_, handled) in enumerate(measures.keys) if handled == 0.0), None)
            if waiting is not None:
                measures.keys[waiting] = (measures.keys[waiting][0], time.monotonic())
        return run

    App._display = frame  # type: ignore[method-assign]
    DataTable.action_cursor_down = wrap(down)  # type: ignore[method-assign]
    DataTable.action_cursor_up = wrap(up)  # type: ignore[method-assign]
    try:
        yield
    finally:
        App._display = display  # type: ignore[method-assign]
        DataTable.action_cursor_down = down  # type: ignore[method-assign]
        DataTable.action_cursor_up = up  # type: ignore[method-assign]


async def _probe(measures: Measures, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before, phase = loop.time(), measures.phase
        await asyncio.sleep(TICK)
        measures.stalls.append((before, loop.time() - before - TICK, phase or measures.phase))


async def _until(pilot: Any, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for ``condition``, checking it every 10 ms. A plain sleep, not ``pilot.pause``: that one
    posts a callback to every widget of the screen each time, load the wizard never has in use, and
    it would be measured as the wizard's own while the checks run."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the wizard did not get there in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.01)


def send_key(driver: Any, app: Any, key: str) -> None:
    """Queue a key press through the driver, as the terminal's input thread does."""
    from textual import events

    event = events.Key(key, None)
    event.set_sender(app)
    driver.send_message(event)


async def drive(app: Any, measures: Measures, *, timeout: float) -> None:
    """Welcome -> sign in -> eligibility (first check run) -> re-run with keys pressed meanwhile."""

    async with app.run_test(size=(80, 24)) as pilot:
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe(measures, stop))
        try:
            await pilot.press("ctrl+n")
            await _until(pilot, lambda: app.session is not None, timeout, "signed in")
            measures.phase = "first"
            started = time.monotonic()
            await _until(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "signin"
                         and app.screen.is_mounted, timeout, "sign-in step")
            await pilot.press("ctrl+n")
            await _until(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility"
                         and app.screen.is_mounted, timeout, "eligibility step")
            await _until(pilot, lambda: not app.checks_running, timeout, "first check run finished")
            measures.check_seconds.append(time.monotonic() - started)
            measures.phase = ""
            await pilot.pause()
            run = app.core.check_run
            measures.phase = "rerun"
            started = time.monotonic()
            driver = app._driver
            send_key(driver, app, "r")  # as a terminal sends it: no pilot waiting on the screen meanwhile
            await _until(pilot, lambda: app.core.check_run > run, timeout, "re-run started")
            step = 0
            while app.checks_running and time.monotonic() - started < timeout:
                key = "down" if step % 4 < 2 else "up"
                step += 1
                measures.keys.append((time.monotonic(), 0.0))
                send_key(driver, app, key)
                await asyncio.sleep(KEY_GAP)
            measures.check_seconds.append(time.monotonic() - started)
            measures.phase = ""
            measures.keys = [k for k in measures.keys if k[1] > 0.0]
        finally:
            stop.set()
            await probe
        await pilot.press("ctrl+c")


def run_demo(scenario_name: str, latency_ms: int, box: Path) -> Measures:
    """The wizard in demo mode: the fake cloud in this very process."""
    from dex_tui.demo import FakeCloud, load_scenario
    from dex_tui.settings import Settings
    from screens.app import WizardApp

    cloud = FakeCloud(load_scenario(scenario_name).with_knobs(latency_ms=latency_ms))
    settings = Settings(demo=scenario_name, state_dir=box / f"ui-{scenario_name}-{time.monotonic_ns()}",
                        token_cache="memory")
    app = WizardApp(settings, browser=False, fake_cloud=cloud, restart=True, preload=True)
    measures = Measures()
    with instrumented(measures):
        asyncio.run(drive(app, measures, timeout=120))
    return measures


def run_loopback(scenario_name: str, latency_ms: int, box: Path) -> Measures:
    """The wizard against a fake cloud served by another process: this process runs only product code."""
    from bench.instrument import FakeServerProcess
    from dex_tui.settings import Settings
    from screens.app import WizardApp

    with FakeServerProcess(scenario_name, latency_ms, child_env(box)) as server:
        settings = Settings(tenant=server.tenant_id, cloud="commercial", login_url=server.login_url,
                            graph_url=server.graph_url, mde_url=server.mde_url, ca_bundle=Path(server.ca_file),
                            token_cache="memory", state_dir=box / f"ui-loopback-{time.monotonic_ns()}")
        warm_up(settings)
        app = WizardApp(settings, browser=False, restart=True, preload=True)
        measures = Measures()
        with instrumented(measures):
            asyncio.run(drive(app, measures, timeout=300))
    return measures


def warm_up(settings: Any) -> None:
    """One untimed check through the fake server before the session: the server then answers every
    Defender for Endpoint page from memory (bench.instrument.TimedCloud), instead of generating ~9 MB
    of JSON per page on this small machine's CPUs while the wizard is measured. A real tenant's
    service does not run on the operator's machine."""
    from dex_tui.answers import Answers
    from dex_tui.engine import Checker
    from dex_tui.runtime import Runtime

    runtime = Runtime(settings)
    try:
        runtime.authenticator().sign_in_with_device_code(lambda prompt: None)
        Checker.for_runtime(runtime).run(Answers())
    finally:
        runtime.close()


def figures(*, latency_ms: int, quick: bool, box: Path | None = None) -> list[Figure]:
    """Each session is repeated; the figure is the worst stall over all sessions (what a user can
    meet), with the median of the sessions' worst stalls beside it."""
    box = box or sandbox()
    out: list[Figure] = []
    for label, runner, scenario, suffix, reps in (
            ("ready, --demo: fake cloud in this process", run_demo, "ready", "", 1 if quick else 5),
            ("large, fake cloud in another process", run_loopback, "large", "_large", 1 if quick else 3)):
        sessions = [runner(scenario, latency_ms, box) for _ in range(reps)]
        rerun = [m.worst_stall("rerun") for m in sessions]
        first = [m.worst_stall("first") for m in sessions]
        key_frames = [k for m in sessions for k in m.key_to_frame()]
        runs = "; ".join(", ".join(ms(s) for s in m.check_seconds) for m in sessions)
        out.append(Figure(
            f"ui.stall{suffix}", f"longest event-loop stall while the checks run on the eligibility step ({label})",
            max(rerun) * 1000, " ms", 50, "<", f"{ms(max(rerun))}: the worst over {reps} session(s), median "
            f"{ms(median(rerun))}, during a re-run of the checks "
            f"({TICK * 1000:.0f} ms ticks, {sum(m.wakeups('rerun') for m in sessions)} wake-ups)",
            [f"check runs (first, re-run) took {runs}"]
            + (["the fake server generated its ~9 MB device pages in an untimed check before each session, so "
                "it answers from memory instead of sharing this machine's CPUs with the wizard (a real "
                "service runs elsewhere)"] if runner is run_loopback else [])))
        out.append(Figure(
            f"ui.stall_step_change{suffix}", f"longest event-loop stall while the checks run and the operator moves "
            f"from sign-in to the eligibility step ({label})", max(first) * 1000, " ms", 50, "<",
            f"{ms(max(first))}: the worst over {reps} session(s), median {ms(median(first))}, from sign-in to the "
            "end of the first run",
            [f"longest stall at any time: "
             f"{ms(max(m.worst_stall(None) for m in sessions))}"]))
        if key_frames:
            out.append(Figure(
                f"ui.key_to_frame{suffix}", f"key press to the next rendered frame while the checks run ({label})",
                median(key_frames) * 1000, " ms", None, "",
                f"median {ms(median(key_frames))}, worst {ms(max(key_frames))} over {len(key_frames)} Down/Up keys"))
        else:
            out.append(Figure(f"ui.key_to_frame{suffix}", f"key press to the next rendered frame ({label})",
                              float("inf"), " ms", None, "", "no key press was handled while the checks ran"))
    return out
