"""The read scheduler: runs the tenant reads in a thread pool, each as soon as the reads it depends on
have ended, and collects their outcomes into one :class:`~dex_tui.tenant_facts.TenantFacts`.

A read's failure never stops the others: it becomes that read's precise reason
(:class:`~dex_tui.tenant_facts.ReadResult`). Only cancellation (:class:`~dex_tui.errors.Interrupted`)
ends a run early, without waiting for the requests in flight. What the reads are is
:data:`dex_tui.facts.READS`.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from dex_tui.errors import DexError, Interrupted
from dex_tui.graph import GraphClient, GraphError
from dex_tui.records import dataclass
from dex_tui.scopes import REQUIREMENTS
from dex_tui.tenant_facts import CloudInfo, ReadResult, TenantFacts, utc_stamp


@dataclass(frozen=True)
class ReadSpec:
    name: str
    api: str
    what: str  # the request(s), for documentation and progress lines
    fn: Callable[[GraphClient, Mapping[str, ReadResult]], Any]
    depends_on: tuple[str, ...] = ()


def with_dependencies(names: Iterable[str], reads: Mapping[str, ReadSpec]) -> list[str]:
    """``names`` plus the reads they depend on, in ``reads`` order."""
    wanted = set(names)
    for name in list(wanted):
        wanted.update(reads[name].depends_on)
    return [name for name in reads if name in wanted]


def _failure(name: str, error: BaseException, requests: int, seconds: float) -> ReadResult:
    if isinstance(error, GraphError):
        return ReadResult(name, error=error.reason(), kind=error.kind, status=error.status,
                          permission=error.permission if error.status == 403 else None, endpoint=error.endpoint,
                          requests=requests, seconds=seconds)
    if isinstance(error, DexError):
        # A SignInRequired (code "signin_required": the saved sign-in was revoked or expired) has its own
        # kind, so the wizard's session knows to ask for a new sign-in (dex_tui.session.session_ended).
        kind = "session-ended" if getattr(error, "code", "") == "signin_required" else "sign-in"
        return ReadResult(name, error=error.one_line(), kind=kind, requests=requests, seconds=seconds,
                          permission=REQUIREMENTS[name].permission if name in REQUIREMENTS else None)
    return ReadResult(name, error=f"The {name} read failed unexpectedly ({type(error).__name__}: {error}).",
                      kind="internal", requests=requests, seconds=seconds)


def run_read(client: GraphClient, spec: ReadSpec, deps: Mapping[str, ReadResult]) -> ReadResult:
    """Run one read; never raises except :class:`Interrupted` (cancellation)."""
    for dep in spec.depends_on:
        if not deps.get(dep, ReadResult(dep, error="missing")).ok:
            return ReadResult(spec.name, error=f"Not read, because the {dep} read failed: {deps[dep].error}"
                              if dep in deps else f"Not read, because the {dep} read did not run.",
                              kind="skipped", status=deps[dep].status if dep in deps else None,
                              permission=deps[dep].permission if dep in deps else None)
    before, start = client.thread_requests(), time.monotonic()
    try:
        value = spec.fn(client, deps)
    except Interrupted:
        raise
    except Exception as error:  # every failure becomes this read's precise reason
        return _failure(spec.name, error, client.thread_requests() - before, time.monotonic() - start)
    return ReadResult(spec.name, value=value, requests=client.thread_requests() - before,
                      seconds=time.monotonic() - start)


def gather(client: GraphClient, cloud: CloudInfo, reads: Mapping[str, ReadSpec], *,
           names: Iterable[str] | None = None,
           previous: TenantFacts | None = None, on_read: Callable[[ReadResult], None] | None = None,
           is_cancelled: Callable[[], bool] | None = None, max_workers: int = 10) -> TenantFacts:
    """Run the ``reads`` (all, or ``names`` plus their dependencies) concurrently and return the facts.

    ``on_read`` is called from worker threads as each read ends. Dependencies not re-read are taken
    from ``previous``. Cancellation (``is_cancelled``) is checked every 50 ms; it raises
    :class:`~dex_tui.errors.Interrupted` without waiting for requests in flight.
    """
    stop = threading.Event()  # set when gather leaves early (cancel, Ctrl+C, error): the reads stop too
    user_cancelled = is_cancelled or (lambda: False)

    def cancelled() -> bool:
        return stop.is_set() or user_cancelled()

    run_client = client.derive(is_cancelled=cancelled)
    wanted = with_dependencies(reads if names is None else names, reads)
    results: dict[str, ReadResult] = {}
    if previous is not None:
        results.update({k: v for k, v in previous.reads.items() if k not in wanted})
    lock = threading.Lock()
    done = threading.Event()
    remaining = set(wanted)
    started: set[str] = set()
    errors: list[BaseException] = []
    pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dex-read")

    def ready(name: str) -> bool:
        return all(dep in results for dep in reads[name].depends_on)

    def start_ready() -> None:
        with lock:
            todo = [n for n in wanted if n not in started and ready(n)]
            started.update(todo)
            snapshot = dict(results)
        for name in todo:
            pool.submit(work, name, snapshot)

    def work(name: str, deps: Mapping[str, ReadResult]) -> None:
        try:
            result = run_read(run_client, reads[name], deps)
        except BaseException as error:  # Interrupted, or a bug in a callback: end the run
            errors.append(error)
            done.set()
            return
        with lock:
            results[name] = result
        try:
            if on_read is not None:
                on_read(result)
            if not cancelled():
                start_ready()
        except BaseException as error:
            errors.append(error)
            done.set()
            return
        # Done only when every read *and its callback* has finished, so no result arrives late.
        with lock:
            remaining.discard(name)
            finished = not remaining
        if finished:
            done.set()

    try:
        if wanted:
            start_ready()
            while not done.wait(0.05):
                if cancelled():
                    raise Interrupted("The checks were cancelled.")
        if errors:
            raise errors[0]
        if cancelled():
            raise Interrupted("The checks were cancelled.")
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    return TenantFacts(cloud=cloud, reads=MappingProxyType({n: results[n] for n in reads if n in results}),
                       gathered_at=utc_stamp())
