"""The wizard's demo tenant is built after the first frame: its header is read from the scenario file at
once, the fake cloud in the background, and a sign-in that comes first waits for it without holding the
event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.demo_controls import DemoControls, read_scenario_header
from dex_tui.errors import UsageError
from dex_tui.settings import Settings, shipped_scenario_names
from screens.app import WizardApp
from screens.dialogs import ErrorDialog
from screens.textdump import screen_text
from tests.test_wizard_support import FROZEN_CLOCK, NOW, shown, wait_for


@pytest.mark.parametrize("name", shipped_scenario_names())
def test_the_header_says_what_the_full_scenario_says(name: str) -> None:
    header, scenario = read_scenario_header(name), load_scenario(name)
    assert (header.name, header.initial_domain, header.now) == (scenario.name, scenario.initial_domain, scenario.now)


def test_a_scenario_file_by_path_and_a_broken_one(tmp_path: Path) -> None:
    own = tmp_path / "own.toml"
    own.write_text('[scenario]\nname = "own"\nextends = "gcc"\n[tenant]\nnow = "2026-01-01T00:00:00Z"\n')
    header = read_scenario_header(str(own))
    assert (header.name, header.initial_domain, header.now) == ("own", "contosogov.onmicrosoft.com",
                                                                 "2026-01-01T00:00:00Z")
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\n")
    with pytest.raises(UsageError) as caught:
        read_scenario_header(str(broken))
    assert caught.value.title == "Invalid scenario"
    loop = tmp_path / "loop.toml"
    loop.write_text('[scenario]\nextends = "loop"\n')
    with pytest.raises(UsageError):  # no name, domain or clock anywhere: refused, not read for ever
        read_scenario_header(str(loop))


def test_deferred_controls_build_once_in_the_background_and_keep_a_failure() -> None:
    builds: list[str] = []

    def build() -> FakeCloud:
        builds.append(threading.current_thread().name)
        return FakeCloud(load_scenario("ready"))

    controls = DemoControls(header=read_scenario_header("ready"), build=build)
    assert not controls.ready and controls.initial_domain == "contoso.onmicrosoft.com" and builds == []
    controls.start_building()
    controls.start_building()
    assert controls.wait_ready(30) and controls.ready
    assert controls.cloud.scenario.name == "ready" and builds == ["dex-demo-cloud"]

    def fail() -> FakeCloud:
        raise UsageError("scenario file 'x': field tenant.id is missing.", title="Invalid scenario")

    failing = DemoControls(header=read_scenario_header("ready"), build=fail)
    with pytest.raises(UsageError):  # read before anyone started it: built (and failed) on demand
        _ = failing.cloud
    assert failing.ready
    with pytest.raises(UsageError):
        _ = failing.cloud


def test_the_wizard_reads_only_the_header_before_its_first_frame(tmp_path: Path) -> None:
    controls = DemoControls.deferred("fresh", interactive=True)
    assert not controls.ready and controls.scenario_name == "fresh" and controls.now() == load_scenario("fresh").now
    assert controls.wait_ready(30)
    assert controls.cloud.device_code_paced  # interactive: the code waits for "a", as for_scenario makes it


async def test_a_sign_in_before_the_demo_tenant_is_built_waits_for_it_without_a_stall(state_dir: Path) -> None:
    release = threading.Event()

    def slow_build() -> FakeCloud:
        release.wait(10)
        return FakeCloud(load_scenario("ready"))

    controls = DemoControls(header=read_scenario_header("ready"), build=slow_build)
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), demo=controls, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "the demo tenant, contoso.onmicrosoft.com" in app.screen.query_one("#tenant").placeholder
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.flow.step == "signin")
        # The event loop keeps turning while the tenant is built: timers fire on time.
        loop = asyncio.get_running_loop()
        started = loop.time()
        await pilot.pause(0.3)
        assert loop.time() - started < 0.29 + 0.2
        assert app.screen.state == "preparing" and "Preparing sign-in" in screen_text(app)
        assert app.core._runtime is None  # nothing raced ahead to build the runtime without the tenant
        release.set()
        await wait_for(pilot, lambda: app.session is not None, timeout=15)  # "ready" approves at once
        assert not shown(app, ErrorDialog)


async def test_a_demo_tenant_that_fails_to_build_is_an_error_at_sign_in(state_dir: Path) -> None:
    def fail() -> FakeCloud:
        time.sleep(0.05)
        raise UsageError("scenario file 'x': field tenant.id is missing.", title="Invalid scenario")

    controls = DemoControls(header=read_scenario_header("ready"), build=fail)
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), demo=controls, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        assert "tenant.id is missing" in screen_text(app)


def test_the_wizard_defers_a_shipped_scenario_and_loads_an_own_file_in_full_at_once(tmp_path: Path) -> None:
    assert not DemoControls.for_wizard("ready").ready
    own = tmp_path / "own.toml"
    own.write_text('[scenario]\nname = "own"\nextends = "ready"\n')
    controls = DemoControls.for_wizard(str(own))
    assert controls.ready and controls.cloud.scenario.name == "own"  # checked before the wizard starts
    own.write_text('[scenario]\nname = "own"\nextends = "ready"\n[tenant]\nid = 7\n')
    with pytest.raises(UsageError):
        DemoControls.for_wizard(str(own))
