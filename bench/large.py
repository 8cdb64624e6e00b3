"""Figure 3, a large tenant: requests made, wall time and peak memory of a whole ``dex-tui check``.

The large tenant has 200,000 users, 100,000 devices and 50 SKUs (``assets/scenarios/large.toml``).
The check runs as its own process (the real command line, sign-in included) against a fake cloud
served over loopback HTTPS by another process, so its peak RSS (``os.wait4``'s ``ru_maxrss``) is the
product's alone. The same is done for the ``ready`` tenant (250 members, 220 devices), and the
request counts are compared with what the APIs' documented page limits force: Graph counts users
with ``$count`` (one request whatever the size), and the Defender for Endpoint machines and
antivirus reads have no count or aggregate, so each pages at most 10,000 devices per request.
For comparison, the same check with the fake cloud inside the process (``--demo large``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, child_env, dex_tui_command, ms
from bench.instrument import FakeServerProcess

MDE_PAGE_LIMIT = 10_000  # $top maximum of /api/machines and /api/deviceavinfo (domain.md §4.14, §4.15)


@dataclass
class CheckProcess:
    exit_code: int
    seconds: float
    peak_rss_mb: float
    requests: list[tuple[float, float, str, str]]
    stderr: str
    reads: dict[str, int]  # read name -> requests it made (from the report)

    def count(self, kind: str) -> int:
        """Requests by kind: login (sign-in and tokens), graph, mde."""
        def kind_of(path: str) -> str:
            first = path.strip("/").split("/", 1)[0]
            return first if first in ("graph", "mde") else "login"
        return sum(1 for r in self.requests if kind_of(r[3]) == kind)


def run_check(args: list[str], env: dict[str, str], box: Path, server: FakeServerProcess | None) -> CheckProcess:
    """Run ``dex-tui ARGS check`` as a child process; its wall time, peak RSS and the server's log."""
    if server is not None:
        server.reset()
    out = box / f"check-{time.monotonic_ns()}"
    command = [*dex_tui_command(), *args, "--state-dir", str(out), "check", "--format", "json",
               "--output", str(out / "report.json")]
    out.mkdir(parents=True)
    with open(out / "stderr.txt", "w+") as err:
        start = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    requests = server.log() if server is not None else []
    if child.returncode not in (0, 1, 2):
        raise RuntimeError(f"dex-tui check failed (exit {child.returncode}): {stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    reads = {read["name"]: int(read["requests"]) for read in report.get("reads", [])}
    return CheckProcess(child.returncode, seconds, usage.ru_maxrss / 1024, requests, stderr, reads)


def figures(box: Path, *, quick: bool) -> list[Figure]:
    from dex_tui.demo import load_scenario

    env = child_env(box)
    runs: dict[str, CheckProcess] = {}
    for name in ("ready", "large"):
        with FakeServerProcess(name, 0, env) as server:
            runs[name] = run_check(server.options(), env, box, server)
    demo = run_check(["--demo", "large"], env, box, None) if not quick else None
    ready, large = runs["ready"], runs["large"]
    devices = {name: sum(g.count for g in load_scenario(name).devices) for name in runs}
    onboarded = {name: sum(g.count for g in load_scenario(name).devices if g.onboarding == "Onboarded")
                 for name in runs}
    users = {name: load_scenario(name).members + load_scenario(name).guests for name in runs}
    skus = {name: len(load_scenario(name).skus) for name in runs}
    # What the page limit adds going from ready to large: the machines read lists onboarded devices,
    # the antivirus read lists every device; each at most MDE_PAGE_LIMIT per request.
    def pages(name: str) -> int:
        return sum(max(1, math.ceil(n[name] / MDE_PAGE_LIMIT)) for n in (onboarded, devices))

    extra_pages = pages("large") - pages("ready")
    allowed = len(ready.requests) + extra_pages
    notes = [f"ready ({users['ready']:,} users, {devices['ready']:,} devices, {skus['ready']} SKUs): "
             f"{len(ready.requests)} requests "
             f"(login {ready.count('login')}, Graph {ready.count('graph')}, MDE {ready.count('mde')}); "
             f"large ({users['large']:,} users, {devices['large']:,} devices, {skus['large']} SKUs): "
             f"{len(large.requests)} requests "
             f"(login {large.count('login')}, Graph {large.count('graph')}, MDE {large.count('mde')})",
             f"allowed: ready's {len(ready.requests)} + {extra_pages} more MDE pages "
             f"(ceil({onboarded['large']:,}/{MDE_PAGE_LIMIT:,}) onboarded machines + ceil({devices['large']:,}/"
             f"{MDE_PAGE_LIMIT:,}) antivirus rows = {pages('large')}, less ready's {pages('ready')}); Graph requests: "
             f"{ready.count('graph')} vs {large.count('graph')} (users counted, not listed)",
             "requests per read, ready -> large: " + ", ".join(
                 f"{name} {ready.reads.get(name, 0)} -> {large.reads.get(name, 0)}" for name in large.reads)]
    rss_notes = [f"ready: peak RSS {ready.peak_rss_mb:.0f} MB, wall {ms(ready.seconds)}; "
                 f"large: wall {ms(large.seconds)} (exit {large.exit_code})"]
    if demo is not None:
        rss_notes.append(f"dex-tui --demo large check (fake cloud in the same process): peak RSS "
                         f"{demo.peak_rss_mb:.0f} MB, wall {ms(demo.seconds)}")
    return [
        Figure("large.requests", "requests of a whole check on the large tenant vs what page limits allow",
               len(large.requests), "", allowed, "<=", f"{len(large.requests)} requests vs {allowed} allowed", notes),
        Figure("large.wall", "wall time of a whole check on the large tenant (sign-in included, no latency)",
               large.seconds * 1000, " ms", None, "", f"{ms(large.seconds)} vs {ms(ready.seconds)} for ready"),
        Figure("large.peak_rss", "peak RSS of a whole check on the large tenant", large.peak_rss_mb, " MB", 200, "<",
               f"{large.peak_rss_mb:.0f} MB (ready: {ready.peak_rss_mb:.0f} MB)", rss_notes),
    ]
