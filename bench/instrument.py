"""A FakeCloud that keeps a timed log of every request it answers, for the benchmark's figures.

Each entry says when the request arrived and when its answer was ready (injected latency included),
which thread sent it (in-process transport only) and which tenant read it belonged to, when the
bench tagged that read (see :func:`tag_reads`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dex_tui.demo import FakeCloud, Reply

_current = threading.local()
_HELPER = re.compile(r"^dex-(\w+?)-(?:page|hunt)_\d+$")


@dataclass(frozen=True)
class Logged:
    start: float
    end: float
    method: str
    host: str
    path: str
    thread: str
    read: str

    @property
    def service(self) -> str:
        """login, graph or mde (by host, or by the loopback server's path prefix)."""
        if self.host.startswith(("graph.", "mde.", "login.")):
            return self.host.split(".", 1)[0]
        first = self.path.strip("/").split("/", 1)[0]
        return first if first in ("graph", "mde") else "login"


class TimedCloud(FakeCloud):
    """FakeCloud plus ``timed_log``: one :class:`Logged` per request, in arrival order.

    With ``cache_device_pages``, a Defender for Endpoint page asked for again (same URL) is answered
    from memory after the injected latency: the fake generates 10,000-device pages on the fly, which
    costs a CPU that, on a small machine, the process being measured would otherwise share with it.
    """

    def __init__(self, *args: Any, cache_device_pages: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timed_log: list[Logged] = []
        self._log_lock = threading.Lock()
        self.first_request = threading.Event()
        self._pages: dict[str, Reply] | None = {} if cache_device_pages else None

    def handle(self, method: str, url: str, headers: Any = None, body: bytes | str | None = None) -> Reply:
        start = time.monotonic()
        self.first_request.set()
        try:
            cacheable = self._pages is not None and method == "GET" and "/api/" in url and (
                "/machines" in url or "/deviceavinfo" in url)
            if cacheable and url in self._pages:  # type: ignore[operator]
                self.sleep(self.scenario.behaviour.latency_ms / 1000)
                return self._pages[url]  # type: ignore[index]
            reply = super().handle(method, url, headers, body)
            if cacheable and reply.status == 200 and reply.fault is None:
                self._pages[url] = reply  # type: ignore[index]
            return reply
        finally:
            parts = urlsplit(url)
            thread = threading.current_thread().name
            helper = _HELPER.match(thread)  # a read's helper thread (dex-<read>-page/hunt_N) has no tag
            entry = Logged(start, time.monotonic(), method, parts.hostname or "", parts.path, thread,
                           getattr(_current, "read", "") or (helper.group(1) if helper else ""))
            with self._log_lock:
                self.timed_log.append(entry)

    def reset_log(self) -> None:
        with self._log_lock:
            self.timed_log.clear()


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Tag requests sent from this thread as belonging to the read ``name``."""
    previous = getattr(_current, "read", "")
    _current.read = name
    try:
        yield
    finally:
        _current.read = previous


@contextmanager
def tag_reads() -> Iterator[None]:
    """While active, every request a read sends (through ``dex_tui.read_scheduler.run_read``) carries its name."""
    from dex_tui import read_scheduler

    original = read_scheduler.run_read

    def run_read(client: Any, spec: Any, deps: Any) -> Any:
        with reading(spec.name):
            return original(client, spec, deps)

    read_scheduler.run_read = run_read
    try:
        yield
    finally:
        read_scheduler.run_read = original


class FakeServerProcess:
    """``bench/serve_fake.py`` in a child process: a loopback HTTPS fake cloud outside the measured process."""

    def __init__(self, scenario: str, latency_ms: int, env: dict[str, str], *, devices: int = 0,
                 hunting: bool = True) -> None:
        import json
        import subprocess
        import sys

        self._json = json
        extra = [str(devices)] + ([] if hunting else ["no-hunting"])
        self.process = subprocess.Popen([sys.executable, "-m", "bench.serve_fake", scenario, str(latency_ms), *extra],
                                        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"the fake cloud server did not start (exit {self.process.returncode})")
        info = json.loads(line)
        self.login_url: str = info["login_url"]
        self.graph_url: str = info["graph_url"]
        self.mde_url: str = info["mde_url"]
        self.ca_file: str = info["ca_file"]
        self.tenant_id: str = info["tenant_id"]

    def _ask(self, command: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._json.loads(self.process.stdout.readline())

    def log(self) -> list[tuple[float, float, str, str]]:
        """Every request answered so far: (start, end, method, path), times on this machine's monotonic clock."""
        return [tuple(item) for item in self._ask("log")]  # type: ignore[misc]

    def reset(self) -> None:
        self._ask("reset")

    def options(self) -> list[str]:
        """Global options pointing the real command line at this server."""
        return ["--login-url", self.login_url, "--graph-url", self.graph_url, "--mde-url", self.mde_url,
                "--ca-bundle", self.ca_file, "--tenant", self.tenant_id, "--cloud", "commercial",
                "--token-cache", "memory"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> FakeServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
