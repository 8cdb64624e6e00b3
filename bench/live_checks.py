"""Figure 2, live checks against the fake cloud with injected latency (a real sleep per request).

One fresh fake tenant per run (``ready`` with ``latency_ms``), signed in first through the real MSAL
device flow (not timed); then the whole check is timed, and every request it sends is logged with its
arrival time, its end, its thread and the tenant read it belongs to (bench.instrument).

The critical path is computed from what the run actually did: the requests of one read that do not
overlap in time went one after another (paging and retries; a read may send some at once), a read that depends on another starts after
it (``dex_tui.facts.READS[...].depends_on``), and requests made outside any read (token fetches
before the reads start) come first. Its length in requests times the latency is the fastest any
schedule of these requests could finish.

"One after another" runs the very same reads through the same code with a single worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import Figure, median, ms
from bench.instrument import Logged, TimedCloud, tag_reads


@dataclass
class CheckRun:
    """One timed check: wall seconds, the requests it sent, and what it produced."""

    seconds: float
    log: list[Logged]
    outcome: Any
    reads: dict[str, Any] = field(default_factory=dict)  # read name -> ReadResult


def signed_in_runtime(cloud: TimedCloud, *, tenant: str | None = None) -> Any:
    """A Runtime on ``cloud`` with the operator signed in (MSAL device flow; demo approves at once)."""
    from dex_tui.runtime import Runtime
    from dex_tui.settings import Settings

    settings = Settings(demo=cloud.scenario.name, tenant=tenant or cloud.scenario.tenant_id, token_cache="memory")
    runtime = Runtime(settings, fake_cloud=cloud)
    runtime.authenticator().sign_in_with_device_code(lambda prompt: None)
    return runtime


def run_checks(runtime: Any, *, workers: int | None = None) -> tuple[Any, dict[str, Any]]:
    """The product's whole check (``dex_tui.engine.Checker.run``: every read, every check), with its
    default concurrency, or ``workers=1``: the same reads one at a time.

    Returns the check results and the read outcomes by name.
    """
    from dex_tui.answers import Answers
    from dex_tui.engine import Checker

    checker = Checker.for_runtime(runtime)
    if workers is not None:
        checker.max_workers = workers
    results = checker.run(Answers())
    return results, dict(checker.facts.reads)


def timed_run(scenario: Any, *, workers: int | None = None,
              runner: Callable[..., tuple[Any, dict[str, Any]]] = run_checks) -> CheckRun:
    cloud = TimedCloud(scenario)
    runtime = signed_in_runtime(cloud)
    cloud.reset_log()
    with tag_reads():
        start = time.monotonic()
        outcome, reads = runner(runtime, workers=workers)
        seconds = time.monotonic() - start
    log = list(cloud.timed_log)
    runtime.close()
    return CheckRun(seconds, log, outcome, reads)


@dataclass
class Chain:
    requests: int
    path: list[str]  # e.g. ["partners (GET /policies/crossTenantAccessPolicy/partners)", "tenant_information (POST /$batch)"]


def critical_path(log: list[Logged]) -> Chain:
    """The longest chain of dependent requests in ``log`` (see the module docstring)."""
    return longest_chains(log)[0]


def longest_chains(log: list[Logged]) -> list[Chain]:
    """Every chain as long as the longest one (ties explain the critical path better than one)."""
    from dex_tui.facts import READS

    per_read: dict[str, list[Logged]] = {}
    setup: list[Logged] = []
    for entry in log:
        (per_read.setdefault(entry.read, []) if entry.read else setup).append(entry)
    memo: dict[str, Chain] = {}

    def depth(name: str) -> Chain:
        if name not in memo:
            deps = [depth(d) for d in READS[name].depends_on if d in per_read] if name in READS else []
            longest = max(deps, key=lambda c: c.requests, default=Chain(0, []))
            own = per_read.get(name, [])
            memo[name] = Chain(longest.requests + sequential(own), [*longest.path, f"{name} ({_describe(own)})"])
        return memo[name]

    chains = [depth(name) for name in sorted(per_read)] or [Chain(0, [])]
    length = max(c.requests for c in chains)
    prefix = [f"before the reads ({_describe(setup)})"] if setup else []
    return [Chain(len(setup) + c.requests, prefix + c.path) for c in chains if c.requests == length]


def sequential(entries: list[Logged]) -> int:
    """How many of a read's requests went one after another: the most that do not overlap in time
    (a read may send some at once: pages in flight, the antivirus read's hunting query beside its list)."""
    count, free_at = 0, float("-inf")
    for entry in sorted(entries, key=lambda e: e.end):
        if entry.start >= free_at:
            count, free_at = count + 1, entry.end
    return count


def _describe(entries: list[Logged]) -> str:
    """``token + GET /api/machines`` style: what each request in a chain was."""
    parts = []
    for entry in entries:
        if entry.service == "login":
            parts.append("token")
        else:
            path = entry.path.split("/v1.0", 1)[-1] if "/v1.0" in entry.path else entry.path
            parts.append(f"{entry.method} {path}")
    return " + ".join(parts) or "no request"


def figures(*, latency_ms: int, reps: int) -> list[Figure]:
    from dex_tui.demo import load_scenario

    scenario = load_scenario("ready").with_knobs(latency_ms=latency_ms)
    latency = latency_ms / 1000
    concurrent = [timed_run(scenario) for _ in range(reps)]
    sequential = [timed_run(scenario, workers=1) for _ in range(max(1, reps // 2))]
    wall = median(r.seconds for r in concurrent)
    one_by_one = median(r.seconds for r in sequential)
    chain = critical_path(concurrent[0].log)
    path_seconds = chain.requests * latency
    total = len(concurrent[0].log)
    failed = sorted(name for name, r in concurrent[0].reads.items() if not getattr(r, "ok", True))
    chains = "; ".join(" -> ".join(c.path) for c in longest_chains(concurrent[0].log))
    notes = [f"critical path: {chain.requests} dependent requests x {latency_ms} ms = {ms(path_seconds)}; "
             f"the longest chains: {chains}",
             f"{total} requests in all over {len(concurrent[0].reads)} reads; "
             f"wall {', '.join(ms(r.seconds) for r in concurrent)}",
             "reads that failed: " + (", ".join(failed) if failed else "none")]
    seq_notes = [f"one after another (1 worker): {', '.join(ms(r.seconds) for r in sequential)}, "
                 f"{len(sequential[0].log)} requests = {ms(len(sequential[0].log) * latency)} of latency alone"]
    return [
        Figure("checks.critical_path", f"live checks with {latency_ms} ms latency vs their critical path",
               wall / path_seconds, "x", 1.3, "<=", f"wall {ms(wall)} vs critical path {ms(path_seconds)}", notes),
        Figure("checks.vs_sequential", "speed-up over the same reads one after another", one_by_one / wall, "x",
               4.0, ">=", f"one after another {ms(one_by_one)} vs concurrent {ms(wall)}", seq_notes),
    ]
