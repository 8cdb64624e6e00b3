"""Run the live checks: start every read at once, emit each check as soon as its reads are in, and
re-evaluate or re-read just what a wizard step needs.

The wizard calls these from worker threads; ``on_result`` is called from the read threads (post a
message from it, never touch widgets), and ``is_cancelled`` is polled so a cancelled run returns
within about 50 ms (requests in flight finish in the background, bounded by their timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from dex_tui.answers import Answers
from dex_tui.catalogue import ALL_CHECK_IDS, check_ids_for
from dex_tui.checks import REGISTRY, evaluate, reads_for
from dex_tui.errors import Interrupted
from dex_tui.facts import READS, CloudInfo, ReadResult, TenantFacts, gather, with_dependencies
from dex_tui.graph import GraphClient
from dex_tui.mdr_reads import answers_input
from dex_tui.results import CheckResult, Status

if TYPE_CHECKING:
    from dex_tui.runtime import Runtime

ResultCallback = Callable[[CheckResult], None]
Cancelled = Callable[[], bool]

WATCH_INTERVALS = (5.0, 10.0, 20.0, 30.0)  # seconds between watch rounds; the last one repeats


def cloud_of(runtime: Runtime) -> CloudInfo:
    """The run's cloud as the checks see it: chosen with --cloud, or detected/assumed (a hint)."""
    choice = runtime.resolve_cloud()
    return CloudInfo(choice.cloud.name, detected=choice.is_hint, source=choice.note)


def client_for(runtime: Runtime, **options: Any) -> GraphClient:
    """A Graph/MDE client over the runtime's one session, with the runtime's silent token getters."""
    return GraphClient(runtime.session, runtime.endpoints(), graph_token=runtime.graph_token,
                       mde_token=runtime.mde_token, **options)


class Checker:
    """Checks one tenant; keeps the latest facts so answers can be re-evaluated without the network.

    Thread-safe: the wizard may re-evaluate while a refresh runs.
    """

    def __init__(self, client: GraphClient, cloud: CloudInfo, *, max_workers: int = 10) -> None:
        self.client = client
        self.cloud = cloud
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._facts = TenantFacts(cloud=cloud)

    @classmethod
    def for_runtime(cls, runtime: Runtime, **options: Any) -> Checker:
        """Built from a signed-in runtime (worker thread: resolving the cloud may read metadata)."""
        return cls(client_for(runtime, **options), cloud_of(runtime))

    @property
    def facts(self) -> TenantFacts:
        """The facts gathered so far (empty before the first run)."""
        with self._lock:
            return self._facts

    def run(self, answers: Answers, service: str | None = None, *, on_result: ResultCallback | None = None,
            is_cancelled: Cancelled | None = None) -> list[CheckResult]:
        """Read what the service's checks need and evaluate them; results in the stable catalogue order."""
        ids = check_ids_for(service or answers.service)
        return self._run(ids, reads_for(ids), answers, service, on_result, is_cancelled)

    def refresh(self, ids: Iterable[str], answers: Answers, service: str | None = None, *,
                on_result: ResultCallback | None = None, is_cancelled: Cancelled | None = None) -> list[CheckResult]:
        """Re-read only the reads the checks ``ids`` use, keep the other facts, evaluate those checks."""
        wanted = set(ids)
        unknown = wanted - set(REGISTRY)
        ids = [i for i in ALL_CHECK_IDS if i in wanted]
        if unknown:
            raise ValueError(f"unknown check id(s): {', '.join(sorted(unknown))}")
        return self._run(ids, reads_for(ids), answers, service, on_result, is_cancelled)

    def reevaluate(self, answers: Answers, service: str | None = None,
                   ids: Iterable[str] | None = None) -> list[CheckResult]:
        """Evaluate checks again from the facts already read (no network), e.g. after new answers."""
        return evaluate(self.facts, answers, service, ids)

    def watch(self, ids: Iterable[str], answers: Answers | Callable[[], Answers], service: str | None = None, *,
              until: Callable[[list[CheckResult]], bool] | None = None,
              on_round: Callable[[list[CheckResult]], None] | None = None,
              is_cancelled: Cancelled | None = None, intervals: Iterable[float] = WATCH_INTERVALS,
              max_rounds: int | None = None, sleep: Callable[[float], None] | None = None) -> list[CheckResult]:
        """Re-read the checks ``ids`` until ``until(results)`` (default: all pass), with growing pauses.

        ``answers`` may be a callable, read at every round (the operator may confirm meanwhile).
        Returns the last round's results; raises :class:`Interrupted` when cancelled.
        """
        cancelled = is_cancelled or (lambda: False)
        done = until or (lambda results: all(r.status is Status.PASS for r in results))
        pauses = list(intervals) or [WATCH_INTERVALS[-1]]
        rounds = 0
        while True:
            current = answers() if callable(answers) else answers
            results = self.refresh(ids, current, service, is_cancelled=cancelled)
            rounds += 1
            if on_round is not None:
                on_round(results)
            if done(results) or (max_rounds is not None and rounds >= max_rounds):
                return results
            _pause(pauses[min(rounds - 1, len(pauses) - 1)], cancelled, sleep)

    def _run(self, ids: Iterable[str], read_names: set[str] | None, answers: Answers, service: str | None,
             on_result: ResultCallback | None, is_cancelled: Cancelled | None) -> list[CheckResult]:
        service = service or answers.service
        ids = list(ids)
        wanted_reads = set(with_dependencies(READS if read_names is None else read_names))
        # Reads that look up what the operator named (dex_tui.mdr_reads) find the answers among earlier results.
        base = self.facts.merged([answers_input(answers)])
        lock = threading.Lock()
        reads: dict[str, ReadResult] = {k: v for k, v in base.reads.items() if k not in wanted_reads}
        results: dict[str, CheckResult] = {}

        def needs(check_id: str) -> set[str]:
            definition = REGISTRY[check_id]
            return set(definition.reads) | set(definition.optional)

        def emit_ready() -> None:
            with lock:
                snapshot = TenantFacts(cloud=self.cloud, reads=MappingProxyType(dict(reads)))
                todo = [i for i in ids if i not in results and needs(i) <= set(reads)]
                for check_id in todo:
                    results[check_id] = REGISTRY[check_id].fn(snapshot, answers, self.cloud, service)
                emitted = [results[i] for i in todo]
            if on_result is not None:
                for item in emitted:
                    on_result(item)

        def on_read(read: ReadResult) -> None:
            with lock:
                reads[read.name] = read
            emit_ready()

        emit_ready()  # checks that need no read (cloud, answers) appear at once
        facts = gather(self.client, self.cloud, names=wanted_reads, previous=base, on_read=on_read,
                       is_cancelled=is_cancelled, max_workers=self.max_workers)
        with self._lock:
            self._facts = facts
        emit_ready()  # checks whose reads were all taken from earlier facts
        return [results[i] if i in results else REGISTRY[i].fn(facts, answers, self.cloud, service) for i in ids]


def _pause(seconds: float, cancelled: Cancelled, sleep: Callable[[float], None] | None) -> None:
    if cancelled():
        raise Interrupted("Watching was cancelled.")
    if sleep is not None:
        sleep(seconds)
    else:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not cancelled():
            time.sleep(min(0.1, left))
    if cancelled():
        raise Interrupted("Watching was cancelled.")


def run_checks(source: Runtime | GraphClient, answers: Answers, service: str | None = None, *,
               cloud: CloudInfo | None = None, on_result: ResultCallback | None = None,
               is_cancelled: Cancelled | None = None) -> list[CheckResult]:
    """Run every check once against a signed-in runtime (or a ready client plus ``cloud``)."""
    return make_checker(source, cloud).run(answers, service, on_result=on_result, is_cancelled=is_cancelled)


def make_checker(source: Runtime | GraphClient, cloud: CloudInfo | None = None) -> Checker:
    if isinstance(source, GraphClient):
        if cloud is None:
            raise ValueError("a GraphClient needs the cloud (CloudInfo) it talks to")
        return Checker(source, cloud)
    checker = Checker.for_runtime(source)
    if cloud is not None:
        checker.cloud = cloud
    return checker
