"""Helpers shared by the reliability and security tests (no tests here): every log record at DEBUG,
the fake clouds a run created, scanning any text or file for the secrets those clouds issued, and
running the CLI in-process against either transport.
"""

from __future__ import annotations

import logging
import os
import re
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import dex_tui.demo
from dex_tui.cli import run
from dex_tui.demo import FakeCloud, Scenario, load_scenario

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)
# The JWT header every token of the fake shares: not a secret by itself, so it is not searched alone.
_MIN_FRAGMENT = 20


class LogCapture(logging.Handler):
    """Every record of every logger, formatted with its traceback if any, at DEBUG."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def every_log_at_debug() -> Iterator[LogCapture]:
    """Switch every logger that exists now or is created meanwhile to DEBUG (msal included) and
    capture all of them; restore the levels afterwards."""
    capture = LogCapture()
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved: dict[str, tuple[int, bool]] = {}
    original_get_logger = logging.Manager.getLogger.__get__(manager)

    def open_up(name: str, logger: logging.Logger) -> None:
        if name not in saved:
            saved[name] = (logger.level, logger.disabled)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate and capture not in logger.handlers:
            logger.addHandler(capture)

    def get_logger(name: str) -> logging.Logger:
        logger = original_get_logger(name)
        open_up(name, logger)
        return logger

    root_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            open_up(name, logger)
    manager.getLogger = get_logger  # type: ignore[method-assign]
    try:
        yield capture
    finally:
        del manager.getLogger  # the instance attribute goes; the class's method is back
        root.removeHandler(capture)
        root.setLevel(root_level)
        for name, (level, disabled) in saved.items():
            logger = manager.loggerDict.get(name)
            if isinstance(logger, logging.Logger):
                logger.setLevel(level)
                logger.disabled = disabled
                if capture in logger.handlers:
                    logger.removeHandler(capture)


def fragments(secret: str) -> list[str]:
    """What must never appear of ``secret``: the whole of it, and for each of its unique parts (the
    signature and claims of a JWT, the random tail of an opaque token) its first and last 20 characters,
    so a shortened or partially masked print is caught too."""
    pieces = [secret]
    parts = secret.split(".")
    unique = parts[1:] if len(parts) == 3 else [re.sub(r"^(1\.DEMO\.|DAQABAAEAAAD-demo-|0\.DEMO-AUTH\.)", "", secret)]
    for part in unique:
        if len(part) >= _MIN_FRAGMENT:
            pieces += [part[:_MIN_FRAGMENT], part[-_MIN_FRAGMENT:]]
    return pieces


def leaks(secrets: Iterable[str], sources: dict[str, str | bytes]) -> list[str]:
    """``where: secret prefix`` for every secret (or fragment of one) found in a source."""
    found = []
    for where, content in sources.items():
        text = content.decode("latin-1") if isinstance(content, bytes) else content
        for secret in secrets:
            if any(piece in text for piece in fragments(secret)):
                found.append(f"{where}: {secret[:10]}…")
    return found


def files_under(*roots: Path) -> dict[str, bytes]:
    """Every regular file under ``roots`` (recursively), by path."""
    found: dict[str, bytes] = {}
    for root in roots:
        if root.is_file():
            found[str(root)] = root.read_bytes()
            continue
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.is_file():
                found[str(path)] = path.read_bytes()
    return found


def assert_no_secret(clouds: Iterable[FakeCloud], sources: dict[str, str | bytes], *,
                     kinds: Iterable[str] = ("access", "refresh", "id", "device")) -> set[str]:
    """Fail when any secret issued by ``clouds`` appears in ``sources``. Also fails when the clouds
    issued no secret of each of ``kinds``: a scan over nothing would prove nothing."""
    secrets: set[str] = set()
    kinds = tuple(kinds)
    for cloud in clouds:
        secrets |= cloud.issued_secrets()
        issued = cloud.tokens
        present = {"access": bool(issued.access), "refresh": bool(issued.refresh), "id": bool(issued.id_tokens),
                   "device": bool(issued.device_codes)}
        for kind in kinds:
            assert present[kind], f"the run issued no {kind} secret, so the scan would prove nothing"
    assert secrets or not kinds, "no fake cloud issued anything"
    found = leaks(secrets, sources)
    assert not found, f"secrets leaked: {found}"
    return secrets


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert not TRACEBACK.search(text), f"a traceback was printed:\n{text[-2000:]}"


@dataclass
class CloudRecorder:
    """Records every FakeCloud a run builds; ``transform`` adjusts the scenario first (faults, knobs)."""

    clouds: list[FakeCloud] = field(default_factory=list)
    transform: Callable[[Scenario], Scenario] | None = None
    on_cloud: Callable[[FakeCloud], None] | None = None  # called with each new cloud (to wrap handle, ...)

    @property
    def cloud(self) -> FakeCloud:
        assert self.clouds, "the run built no fake cloud"
        return self.clouds[-1]


def record_clouds(monkeypatch: pytest.MonkeyPatch,
                  transform: Callable[[Scenario], Scenario] | None = None) -> CloudRecorder:
    """Make every ``--demo`` run (CLI or wizard) build a recorded FakeCloud with a fake sleep (so
    injected latency costs nothing), its scenario passed through ``transform``."""
    recorder = CloudRecorder(transform=transform)
    original_load = dex_tui.demo.load_scenario
    original_cloud = dex_tui.demo.FakeCloud

    def load(name: str) -> Scenario:
        scenario = original_load(name)
        return recorder.transform(scenario) if recorder.transform else scenario

    class RecordedCloud(original_cloud):  # type: ignore[misc, valid-type]
        def __init__(self, scenario: Scenario, **kwargs: Any) -> None:
            kwargs.setdefault("sleep", lambda seconds: None)
            super().__init__(scenario, **kwargs)
            recorder.clouds.append(self)
            if recorder.on_cloud is not None:
                recorder.on_cloud(self)

    monkeypatch.setattr(dex_tui.demo, "load_scenario", load)
    monkeypatch.setattr(dex_tui.demo, "FakeCloud", RecordedCloud)
    return recorder


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    logs: str

    def sources(self) -> dict[str, str]:
        return {"stdout": self.out, "stderr": self.err, "logs": self.logs}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run ``dex-tui argv`` in-process with every logger at DEBUG; stdout, stderr and logs kept apart."""
    capsys.readouterr()
    with every_log_at_debug() as logs:
        code = run(argv)
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err, logs.text)


def server_args(server: Any, state_dir: Path) -> list[str]:
    """Global options pointing a run at a DemoServer (the loopback HTTPS transport)."""
    return ["--login-url", server.login_url, "--graph-url", server.graph_url, "--mde-url", server.mde_url,
            "--ca-bundle", server.ca_file, "--state-dir", str(state_dir)]


def start_server(scenario: Scenario | str = "ready", **kwargs: Any) -> Any:
    """A started DemoServer on a FakeCloud whose injected latency costs nothing (stop it yourself)."""
    from dex_tui.demo import DemoServer

    loaded = load_scenario(scenario) if isinstance(scenario, str) else scenario
    return DemoServer(FakeCloud(loaded, sleep=lambda seconds: None), **kwargs).start()


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def exposed_files(root: Path) -> dict[str, int]:
    """Files under ``root`` that anyone but the owner could read or write (path -> mode)."""
    return {str(p): mode_of(p) for p in root.rglob("*") if p.is_file() and mode_of(p) & 0o077}


def umask(value: int) -> Any:
    """A context manager that sets the process umask (the loosest one proves modes are set on purpose)."""

    @contextmanager
    def scope() -> Iterator[None]:
        previous = os.umask(value)
        try:
            yield
        finally:
            os.umask(previous)

    return scope()


def fast_clients(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    """Make every Graph client the checks build record its waits (Retry-After, backoff) in ``sleeps``
    instead of sleeping, and use the short read timeout; everything else stays the product's default."""
    import dex_tui.engine

    original = dex_tui.engine.client_for

    def client_for(runtime: Any, **options: Any) -> Any:
        options.setdefault("sleep", sleeps.append)
        options.setdefault("timeout", SHORT_TIMEOUT)
        return original(runtime, **options)

    monkeypatch.setattr(dex_tui.engine, "client_for", client_for)


TRANSPORTS = ("in-process", "loopback")
SHORT_TIMEOUT = (2.0, 0.5)  # (connect, read) seconds: a hung server costs half a second, not thirty


class Transport:
    """One fake cloud behind one of the two transports, reached by a non-demo run (so the token cache,
    the keyring and the state directory behave as with a real tenant).

    ``in-process``: the demo adapter is mounted on the run's session for the reserved demo hosts.
    ``loopback``: a DemoServer on 127.0.0.1 with its own CA, passed with ``--ca-bundle``.
    Either way the run's session gets a short read timeout, so a hung answer costs little.
    """

    def __init__(self, kind: str, scenario: Scenario, monkeypatch: pytest.MonkeyPatch, state_dir: Path,
                 *, token_cache: str = "memory") -> None:
        import dex_tui.runtime
        from dex_tui.demo import DemoServer, mount_demo
        from dex_tui.http import build_session
        from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL

        self.kind = kind
        self.cloud = FakeCloud(scenario, sleep=lambda seconds: None)
        self.sleeps: list[float] = []  # every wait of the Graph client (Retry-After, backoff), not slept
        self.server: Any = None
        if kind == "loopback":
            self.server = DemoServer(self.cloud, hang_seconds=SHORT_TIMEOUT[1] + 0.5).start()
            urls = (self.server.login_url, self.server.graph_url, self.server.mde_url)
            extra = ["--ca-bundle", self.server.ca_file]
        elif kind == "in-process":
            urls = (DEMO_LOGIN_URL, DEMO_GRAPH_URL, DEMO_MDE_URL)
            extra = []
        else:
            raise ValueError(kind)
        cloud = self.cloud

        def session_for_run(ca_bundle: Path | None = None, **kwargs: Any) -> Any:
            session = build_session(ca_bundle, timeout=SHORT_TIMEOUT)
            if kind == "in-process":
                mount_demo(session, cloud)
            return session

        monkeypatch.setattr(dex_tui.runtime, "build_session", session_for_run)
        fast_clients(monkeypatch, self.sleeps)
        self.args = ["--login-url", urls[0], "--graph-url", urls[1], "--mde-url", urls[2], *extra,
                     "--state-dir", str(state_dir), "--token-cache", token_cache]
        self.login_host = "127.0.0.1" if kind == "loopback" else "login.demo.test"

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class Transports:
    """Makes Transports of one kind for one test and stops them all at the end (a module's fixture
    creates it with ``request.param`` from TRANSPORTS and calls ``close``)."""

    def __init__(self, kind: str, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
        self.kind = kind
        self.monkeypatch = monkeypatch
        self.state_dir = state_dir
        self.made: list[Transport] = []

    def __call__(self, scenario: Scenario | str, **kwargs: Any) -> Transport:
        loaded = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.made.append(Transport(self.kind, loaded, self.monkeypatch, self.state_dir, **kwargs))
        return self.made[-1]

    def close(self) -> None:
        for transport in self.made:
            transport.close()


def sigint_as_default() -> None:
    """``preexec_fn`` for a child that must see Ctrl+C. A test run started in the background by a
    script (``pytest ... &``) ignores SIGINT, children inherit that, and Python then installs no
    KeyboardInterrupt handler: the child would ignore the signal the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the duration, even when the test run was
    started with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
