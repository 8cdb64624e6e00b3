"""What a program writes to a pseudo-terminal, kept by a thread that reads its master side."""

from __future__ import annotations

import os
import select
import threading


class PtyOutput:
    """Every byte written to the terminal whose master side is ``master``, read by a thread until
    :meth:`stop` or until the terminal is gone (end of file, ``EIO`` once no one holds the other side).
    The thread polls with a timeout so :meth:`stop` ends it without closing the master first: a read
    blocked on the master would keep it open."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.chunks: list[bytes] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                if not select.select([self.master], [], [], 0.02)[0]:
                    continue
                chunk = os.read(self.master, 65536)
            except (OSError, ValueError):  # the terminal is gone, or its master was closed
                return
            if not chunk:
                return
            with self.lock:
                self.chunks.append(chunk)

    @property
    def screen(self) -> bytes:
        with self.lock:
            return b"".join(self.chunks)

    def stop(self) -> None:
        self._stop.set()
        self._reader.join(timeout=5)
