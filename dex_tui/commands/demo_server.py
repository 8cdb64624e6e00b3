"""``dex-tui demo-server``: serve a demo scenario over loopback HTTPS until Ctrl+C, and print how to point
the real command line at it (the three URLs and the generated CA file)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING

from dex_tui import TOOL_NAME, console
from dex_tui.errors import ExitCode
from dex_tui.settings import DEFAULT_SCENARIO, Settings

if TYPE_CHECKING:
    from dex_tui.demo.scenario import Scenario
    from dex_tui.demo.server import DemoServer

APPROVALS = ("auto", "on_demand", "decline", "expire", "ca_block")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    # The names come from the asset files, not from dex_tui.demo: importing the fake cloud (and
    # requests with it) for a --help costs ~100 ms.
    from dex_tui.settings import shipped_scenario_names

    names = shipped_scenario_names()
    parser.add_argument("--scenario", metavar="NAME", default=None,
                        help=f"a scenario file, or one of: {', '.join(names)} "
                             f"(default: --demo's, else {DEFAULT_SCENARIO})")
    parser.add_argument("--port", metavar="N", type=_port, default=0,
                        help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--approval", metavar="MODE", choices=APPROVALS, default=None,
                        help="how device codes get approved, overriding the scenario: auto, on_demand "
                             "(approve on the /devicelogin page), decline, expire or ca_block")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def run(settings: Settings, args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl+C (or until ``stop`` is set, for tests); 130 on Ctrl+C."""
    from dex_tui.demo import FakeCloud, load_scenario
    from dex_tui.demo.server import DemoServer

    scenario = load_scenario(args.scenario or settings.demo or DEFAULT_SCENARIO)
    if args.approval:
        scenario = scenario.with_knobs(device_code={"approval": args.approval})
    cloud = FakeCloud(scenario)
    own_stop = stop is None
    stop = stop or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if own_stop else None
    try:
        with DemoServer(cloud, port=args.port) as server:
            _print_banner(server, scenario)
            while not stop.wait(0.5):  # short waits so Ctrl+C is seen promptly
                pass
    except KeyboardInterrupt:
        console.err(f"{TOOL_NAME} demo-server: stopped (Ctrl+C); the demo CA file was removed.")
        return int(ExitCode.INTERRUPTED)
    finally:
        if own_stop:
            signal.signal(signal.SIGTERM, previous)
    console.err(f"{TOOL_NAME} demo-server: stopped; the demo CA file was removed.")
    return int(ExitCode.READY)


def _print_banner(server: DemoServer, scenario: Scenario) -> None:
    knobs = scenario.behaviour.device_code
    if knobs.approval == "on_demand":
        approval = f"approve it at {server.login_url}/devicelogin"
    elif knobs.approval == "auto":
        approval = f"approved automatically after {knobs.after_polls} pending poll(s)"
    else:
        approval = f"the scenario answers '{knobs.approval}'"
    lines = [
        f"{TOOL_NAME} demo server: scenario {scenario.name} - {scenario.display_name} "
        f"(fake tenant {scenario.tenant_id})",
        f"  login URL:  {server.login_url}",
        f"  Graph URL:  {server.graph_url}",
        f"  MDE URL:    {server.mde_url}",
        f"  CA file:    {server.ca_file}",
        f"  user code:  {knobs.user_code} ({approval})",
        "Point the command line at it, for example:",
        f"  {TOOL_NAME} --tenant {scenario.tenant_id} --login-url {server.login_url} "
        f"--graph-url {server.graph_url} --mde-url {server.mde_url} --ca-bundle {server.ca_file} "
        f"--token-cache memory signin",
        "Serving until Ctrl+C.",
    ]
    console.out("\n".join(lines))
