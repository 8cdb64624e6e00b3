"""How the process ends: at once and tidily after Ctrl+C, SIGTERM and SIGHUP, even with a read in flight.

A read runs in a worker thread (the checks' pool, the wizard's workers). Python joins such threads at
exit, so a read stuck on a silent server kept an interrupted run alive for up to the read timeout, or
for ever, and a second Ctrl+C then broke the join with a ``threading`` traceback. Here the exit code is
settled first, the registered clean-ups run (temporary files), stdout and stderr are flushed, and
when worker threads are still busy the process ends without waiting for them (``os._exit``): nothing
they could still do is wanted once the run is over (reports and progress are written by the main
thread before it gets here).

SIGTERM and SIGHUP (an SSH session that drops) raise :class:`Terminated` in the main thread, like
Ctrl+C raises ``KeyboardInterrupt``; the exit code is 128 plus the signal's number (143 and 129), as
a shell reports a process killed by it. A signal the parent set to be ignored (``nohup``) stays ignored.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

HANDLED_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)
_cleanups: list[Callable[[], None]] = []
_cleanups_lock = threading.Lock()


class Terminated(BaseException):  # noqa: N818 - named like KeyboardInterrupt, which it parallels
    """SIGTERM or SIGHUP arrived: the run stops as after Ctrl+C, with exit code 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def exit_code_for(signum: int) -> int:
    return 128 + signum


def on_exit(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` when the process ends, however it ends (normal exit, signal, interrupt)."""
    with _cleanups_lock:
        _cleanups.append(cleanup)


def run_cleanups() -> None:
    """Run the registered clean-ups once each (errors ignored: the process is ending)."""
    with _cleanups_lock:
        pending = list(reversed(_cleanups))
        _cleanups.clear()
    for cleanup in pending:
        with contextlib.suppress(Exception):
            cleanup()


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (left alone when ignored)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise_terminated)


@contextlib.contextmanager
def end_app_on_signals(end: Callable[[int], None]) -> Iterator[None]:
    """For the duration (the wizard's ``App.run``), SIGTERM and SIGHUP call ``end(exit_code)`` on the
    running event loop, between two of its callbacks, instead of raising wherever the loop happens to
    be: the app saves its progress and exits, and Textual puts the terminal back (main screen, echo,
    cursor) on its way out. A signal outside the loop raises :class:`Terminated`; a second one while the
    loop runs is ignored (the first one's ending is under way: raised into the loop, asyncio swallowed it
    and it could cut the progress save short, leaving the app running). The previous handlers come back
    afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        # No event loop can run before asyncio is imported (by the UI): the headless commands never load it.
        asyncio = sys.modules.get("asyncio")
        try:
            loop = asyncio.get_running_loop() if asyncio is not None else None
        except RuntimeError:
            loop = None
        if loop is None:
            raise Terminated(signum)
        if asked:  # sudo's monitor, for one, sends SIGHUP and SIGTERM together when its terminal goes
            return
        asked.append(signum)
        loop.call_soon_threadsafe(end, exit_code_for(signum))

    previous = {}
    for signum in HANDLED_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def busy_threads() -> list[threading.Thread]:
    """Threads other than this one that Python would wait for at exit."""
    current = threading.current_thread()
    return [t for t in threading.enumerate() if t is not current and not t.daemon and t.is_alive()]


def finish(code: int) -> int:
    """End the run with ``code``: clean up, flush, and do not wait for worker threads still busy."""
    run_cleanups()
    if busy_threads():
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    # The interpreter's last garbage collections would walk every object of the run one more time,
    # ~30 ms for each pass with requests, MSAL and the checks loaded, to free memory the operating
    # system takes back anyway. Frozen objects are left out of those passes; the ordinary tear-down
    # (atexit, flushing, closing files, every __del__ of an object not in a reference cycle) is unchanged.
    gc.freeze()
    return code
