"""Figure 1, start-up: every program is started as a fresh subprocess, repeatedly, interleaved; medians.

- The wizard's first interactive screen against a bare Textual hello-world app (and, in the notes,
  against a copy of that first screen: what its widgets cost), all started headless
  at 80x24 through ``bench/probe_app.py`` (same interpreter, same patched ``App.run``, same hook): the
  time from spawn until the first screen is mounted, painted and idle (every message queued for the
  app and the screen's widgets processed). The first paint alone is in the notes.
- ``dex-tui --version`` (process wall time) and ``dex-tui check`` (time until its first request reaches
  a loopback fake cloud) against ``python -c "import requests, msal"``; and proof, from
  ``python -X importtime``, that neither imports Textual.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, Figure, child_env, dex_tui_command, interleaved, median, ms, spread

PROBE = str(ROOT / "bench" / "probe_app.py")
BASELINE = [sys.executable, "-c", "import requests, msal"]
# Packages worth naming when the wizard imports them before its first screen and hello-world does not.
HEAVY = ("requests", "urllib3", "msal", "jwt", "cryptography", "markdown_it", "dex_tui.demo", "keyring",
         "platformdirs", "charset_normalizer", "idna", "certifi")


@dataclass
class FirstScreen:
    seconds: float  # spawn to idle
    painted: float  # spawn to the first frame
    modules: frozenset[str]


def first_screen(args: list[str], env: dict[str, str]) -> FirstScreen:
    """Start ``probe_app.py ARGS``: the time from spawn until its first screen is painted and idle."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, PROBE, *args], env=env, capture_output=True, text=True, timeout=120)
    ready = [line.split() for line in done.stdout.splitlines() if line.startswith("READY ")]
    if done.returncode != 0 or not ready:
        raise RuntimeError(f"probe {args} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    modules = next((line[len("MODULES "):].split(",") for line in done.stdout.splitlines()
                    if line.startswith("MODULES ")), [])
    return FirstScreen(float(ready[0][1]) - start, float(ready[0][3]) - start, frozenset(modules))


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def wall_exit(cmd: list[str], env: dict[str, str], codes: tuple[int, ...] = (0, 1, 2)) -> float:
    """Spawn to exit of a command whose exit code is a verdict (``dex-tui check``: 0, 1 or 2)."""
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    if done.returncode not in codes:
        raise RuntimeError(f"{cmd} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def imported_modules(cmd: list[str], env: dict[str, str]) -> set[str]:
    """Every module a Python command imports (from ``-X importtime``); ``cmd[0]`` is a Python script."""
    script = cmd if cmd[0] == sys.executable else [sys.executable, *cmd]
    done = subprocess.run([script[0], "-X", "importtime", *script[1:]], env=env, capture_output=True, text=True,
                          timeout=120)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
            and "|" in line and "cumulative" not in line}


def _textual_note(what: str, modules: set[str]) -> str:
    found = sorted(m for m in modules if m == "textual" or m.startswith(("textual.", "screens")))
    if not modules:
        return f"{what}: could not list its imports"
    return f"{what} imports Textual: {'YES (' + ', '.join(found[:5]) + ')' if found else 'no'}"


def tui_figures(reps: int, sandbox: Path) -> list[Figure]:
    env = child_env(sandbox)
    state = sandbox / "tui-state"
    seen: dict[str, FirstScreen] = {}
    painted: dict[str, list[float]] = {"hello": [], "wizard": [], "demo": [], "same": []}

    def probe(name: str, args: list[str]) -> float:
        result = first_screen(args, env)
        seen[name] = result
        painted[name].append(result.painted)
        return result.seconds

    runs = interleaved({
        "hello": lambda: probe("hello", ["hello"]),
        "wizard": lambda: probe("wizard", ["dex-tui", "--state-dir", str(state / "real")]),
        "demo": lambda: probe("demo", ["dex-tui", "--demo", "--state-dir", str(state / "demo")]),
        "same": lambda: probe("same", ["same-screen"]),
    }, reps)
    hello, wizard, demo, same = (median(runs[k]) for k in ("hello", "wizard", "demo", "same"))
    extra = sorted(p for p in HEAVY if p in seen["wizard"].modules and p not in seen["hello"].modules)
    extra_demo = sorted(p for p in HEAVY if p in seen["demo"].modules and p not in seen["hello"].modules)
    first_paint = {k: median(v[-reps:]) for k, v in painted.items()}
    notes = [f"hello-world {spread(runs['hello'])}; dex-tui {spread(runs['wizard'])}; "
             f"dex-tui --demo {spread(runs['demo'])}",
             f"fastest runs (noise only adds time): dex-tui {min(runs['wizard']) / min(runs['hello']):.2f}x, "
             f"dex-tui --demo {min(runs['demo']) / min(runs['hello']):.2f}x hello-world",
             f"the same first screen without the wizard's code (a copy of its widgets: bench/probe_same_screen.py): {spread(runs['same'])}"
             f" = {same / hello:.2f}x hello-world; dex-tui is {wizard / same:.2f}x that copy, so its own code "
             f"costs {ms(wizard - same)} and the first screen's widgets {ms(same - hello)} over hello-world",
             f"first paint (before idle): hello-world {ms(first_paint['hello'])}, dex-tui {ms(first_paint['wizard'])} "
             f"({first_paint['wizard'] / first_paint['hello']:.2f}x), dex-tui --demo {ms(first_paint['demo'])}",
             "imported before the first screen and not by hello-world: " + (", ".join(extra) or "nothing heavy"),
             "with --demo also: " + (", ".join(p for p in extra_demo if p not in extra) or "nothing more")]
    return [
        Figure("startup.tui", "wizard to first interactive screen vs Textual hello-world", wizard / hello, "x",
               1.3, "<=", f"dex-tui {ms(wizard)} vs hello-world {ms(hello)}", notes),
        Figure("startup.tui_demo", "wizard --demo to first interactive screen vs Textual hello-world",
               demo / hello, "x", 1.3, "<=", f"dex-tui --demo {ms(demo)} vs hello-world {ms(hello)}"),
    ]


def headless_figures(reps: int, sandbox: Path) -> list[Figure]:
    env = child_env(sandbox)
    dex = dex_tui_command()
    figures: list[Figure] = []
    demo_check = [*dex, "--demo", "--state-dir", str(sandbox / "demo-check"), "check", "--format", "json",
                  "--output", str(sandbox / "demo-check.json")]
    runners = {"baseline": lambda: wall(BASELINE, env), "version": lambda: wall([*dex, "--version"], env),
               "demo_check": lambda: wall_exit(demo_check, env)}
    check = CheckStart(sandbox, env)
    if check.available:
        runners["check"] = check.first_request
    try:
        runs = interleaved(runners, reps)
        base, version = median(runs["baseline"]), median(runs["version"])
        version_modules = imported_modules([*dex, "--version"], env)
        figures.append(Figure(
            "startup.version", "dex-tui --version vs python -c 'import requests, msal'", version / base, "x", 1.5,
            "<=", f"{ms(version)} vs {ms(base)}",
            [f"baseline {spread(runs['baseline'])}; --version {spread(runs['version'])}",
             _textual_note("--version", version_modules)]))
        ratios = [d / b for d, b in zip(runs["demo_check"], runs["baseline"], strict=True)]
        figures.append(Figure(
            "startup.check_exit", "dex-tui --demo check --format json, spawn to exit, vs python -c 'import requests, "
            "msal'", median(ratios), "x", 1.5, "<=",
            f"{ms(median(runs['demo_check']))} vs {ms(base)} (median of {len(ratios)} paired ratios)",
            [f"--demo check {spread(runs['demo_check'])}; fastest runs {min(runs['demo_check']) / min(runs['baseline']):.2f}x",
             _textual_note("--demo check", imported_modules(demo_check, env))]))
        if check.available:
            first = median(runs["check"])
            figures.append(Figure(
                "startup.check", "dex-tui check, spawn to its first request, vs python -c 'import requests, msal'",
                first / base, "x", 1.5, "<=", f"{ms(first)} vs {ms(base)}",
                [f"check to first request {spread(runs['check'])} (then the whole check ran: "
                 f"{ms(median(check.totals))} median, against a loopback HTTPS fake cloud)",
                 _textual_note("check", check.modules())]))
        else:
            figures.append(Figure("startup.check", "dex-tui check start-up", float("inf"), "x", 1.5, "<=",
                                  "not measurable: this checkout has no 'check' command"))
    finally:
        check.close()
    return figures


class CheckStart:
    """``dex-tui check`` against a loopback fake cloud: the time from spawn to its first request."""

    def __init__(self, sandbox: Path, env: dict[str, str]) -> None:
        from dex_tui.cli import SUBCOMMANDS

        self.available = "check" in SUBCOMMANDS
        self.env = env
        self.sandbox = sandbox
        self.totals: list[float] = []
        self.server = None
        if not self.available:
            return
        from bench.instrument import TimedCloud
        from dex_tui.demo import DemoServer, load_scenario

        self.cloud = TimedCloud(load_scenario("ready"))
        self.server = DemoServer(self.cloud).start()
        self.command = [*dex_tui_command(), *loopback_options(self.server, self.cloud, sandbox), "check",
                        "--format", "json", "--output", str(sandbox / "check-report.json")]

    def first_request(self) -> float:
        self.cloud.first_request.clear()
        start = time.monotonic()
        child = subprocess.Popen(self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
        arrived: float | None = None
        while child.poll() is None and arrived is None:
            if self.cloud.first_request.wait(0.002):
                arrived = time.monotonic()
        _, err = child.communicate(timeout=120)
        self.totals.append(time.monotonic() - start)
        if arrived is None:
            arrived = min((e.start for e in self.cloud.timed_log if e.start >= start), default=None)
        if child.returncode not in (0, 1, 2) or arrived is None:
            raise RuntimeError(f"dex-tui check failed (exit {child.returncode}): {err[-2000:]}")
        return arrived - start

    def modules(self) -> set[str]:
        return imported_modules(self.command, self.env)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def loopback_options(server: object, cloud: object, sandbox: Path) -> list[str]:
    """Global options pointing the real command line at a :class:`DemoServer`."""
    return ["--login-url", server.login_url, "--graph-url", server.graph_url,  # type: ignore[attr-defined]
            "--mde-url", server.mde_url, "--ca-bundle", server.ca_file,  # type: ignore[attr-defined]
            "--tenant", cloud.scenario.tenant_id, "--cloud", "commercial",  # type: ignore[attr-defined]
            "--token-cache", "memory", "--state-dir", str(sandbox / "check-state")]
