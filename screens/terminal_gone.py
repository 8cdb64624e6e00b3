"""A wizard whose terminal goes away ends as on a hang-up, even when no SIGHUP reaches it.

An SSH session that drops normally sends the wizard SIGHUP (:mod:`dex_tui.shutdown` ends it with 129,
progress saved). Not always: the kernel sends SIGHUP only to the processes whose controlling terminal
hung up, and a wizard started where that is not its terminal (``sudo dex-tui`` from a process without
one, for example: sudo then passes its terminal through; seen under sudo with ``use_pty`` over SSH
too) gets no signal. Its terminal is hung up all the same: a read returns nothing (or fails with
``EIO``), a write fails with ``EIO``. Textual's Linux driver (textual 8.2) does not expect that:

- its input thread (``LinuxDriver.run_input_thread``) selects the terminal, which a hung-up terminal
  always reports readable, reads nothing, and selects again: a busy loop on one core, for ever;
- a read that fails (``EIO``) ends that thread through ``App.panic``: Textual's traceback, then exit 0;
- its output thread (``WriterThread``) dies on the first failed write, and the event loop, which hands
  it every frame through a queue of 30, blocks once the queue is full: the app never ends, SIGTERM
  (which ends the app on the event loop) is not acted on, and the tenant's lock stays held.

:class:`TerminalGoneDriver` is the Linux driver with those three holes closed: a thread of its own waits
(``poll``, no CPU) for the terminal's hang-up, a failed read or write counts as one too, and writes to a
terminal that is gone are dropped, so the event loop never waits on it. Any of them calls ``end(129)``
once, on the event loop: the same ending as SIGHUP's (progress saved, lock released, the unclean-exit
marker left because the terminal could not be put back). :func:`end_when_terminal_gone` installs it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from textual.app import App

from dex_tui import console
from dex_tui.shutdown import exit_code_for

HANG_UP = exit_code_for(getattr(signal, "SIGHUP", 1))  # 129


class EndOnce:
    """The first ending asked for decides (a signal, or the terminal going away); later ones are
    ignored, so the progress is saved once and the exit code is the first cause's. Called on the
    event loop only."""

    def __init__(self, end: Callable[[int], None]) -> None:
        self._end = end
        self.code: int | None = None

    def __call__(self, code: int) -> None:
        if self.code is not None:
            return
        self.code = code
        self._end(code)


def end_when_terminal_gone(app: App[Any], end: Callable[[int], None]) -> EndOnce:
    """Make ``app`` (before it runs) call ``end(129)`` when its terminal goes away, and return the
    :class:`EndOnce` that both this and the signals (:func:`dex_tui.shutdown.end_app_on_signals`) must
    end through. Nothing is watched where Textual does not use its Linux driver (Windows, a driver
    chosen with ``TEXTUAL_DRIVER``)."""
    ending = EndOnce(end)
    if sys.platform != "win32" and app.driver_class is LinuxDriver:

        class Driver(TerminalGoneDriver):
            def terminal_gone(self) -> None:
                ending(HANG_UP)

        app.driver_class = Driver
    return ending


class _Output:
    """The file the driver's output thread writes the screen to: a write that fails (the terminal is
    gone) points the stream at the null device and reports it once; nothing is written after that."""

    def __init__(self, stream: TextIO, failed: Callable[[], None]) -> None:
        self._stream = stream
        self._failed = failed
        self._gone = False

    def write(self, text: str) -> None:
        if self._gone:
            return
        try:
            self._stream.write(text)
        except OSError:
            self._fail()

    def flush(self) -> None:
        if self._gone:
            return
        try:
            self._stream.flush()
        except OSError:
            self._fail()

    def fileno(self) -> int:
        return self._stream.fileno()

    def _fail(self) -> None:
        self._gone = True
        console.silence(self._stream)  # the text still buffered, and the flush at exit, go nowhere
        self._failed()


class _HangUpWatch(threading.Thread):
    """Waits, without using the CPU, until ``fd`` (the terminal's input) is hung up, then calls ``gone``."""

    def __init__(self, fd: int, gone: Callable[[], None]) -> None:
        super().__init__(name="dex-tui-terminal-watch", daemon=True)
        self._fd = fd
        self._gone = gone
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, 0)  # no event asked: only POLLHUP, POLLERR and POLLNVAL are reported
        poller.register(self._wake_read, select.POLLIN)
        while True:
            for fd, mask in poller.poll():
                if fd == self._wake_read:
                    return
                if mask & (select.POLLHUP | select.POLLERR) or not _is_open(fd):
                    self._gone()
                    return
                if mask & select.POLLNVAL:  # an open descriptor poll cannot watch (a terminal on macOS)
                    return

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=1)
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


if sys.platform != "win32":
    from textual.drivers.linux_driver import LinuxDriver

    class TerminalGoneDriver(LinuxDriver):
        """Textual's Linux driver, ending the app (:meth:`terminal_gone`) when the terminal is gone
        instead of spinning on it, panicking, or blocking the event loop on its writes."""

        def __init__(self, app: App[Any], **options: Any) -> None:
            super().__init__(app, **options)
            if self._file is not None:
                self._file = _Output(self._file, self._terminal_gone)  # type: ignore[assignment]
            self._gone = False
            self._gone_lock = threading.Lock()
            self._watch: _HangUpWatch | None = None

        def terminal_gone(self) -> None:
            """On the event loop, once: the terminal is gone (a subclass ends the app)."""

        def start_application_mode(self) -> None:
            super().start_application_mode()
            if self._key_thread is not None and self._watch is None:
                self._watch = _HangUpWatch(self.fileno, self._terminal_gone)
                self._watch.start()

        def stop_application_mode(self) -> None:
            watch, self._watch = self._watch, None
            if watch is not None:
                watch.stop()
            super().stop_application_mode()

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError:  # EIO: the terminal is gone (or this process may no longer read it)
                self._terminal_gone()

        def _terminal_gone(self) -> None:
            """From any thread: stop reading the terminal (its input thread would spin on it) and call
            :meth:`terminal_gone` on the event loop, the first time only."""
            with self._gone_lock:
                if self._gone:
                    return
                self._gone = True
            self.exit_event.set()
            with contextlib.suppress(RuntimeError):  # the loop has closed: the app has ended already
                self._loop.call_soon_threadsafe(self.terminal_gone)  # the loop the driver was made on
