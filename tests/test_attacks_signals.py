"""Issue 14, items 5 and 16: Ctrl+C, SIGTERM and SIGHUP with a read in flight, for real.

A hostile loopback server (``tests/hostile.py``) never answers ``/api/machines``, so a read is always in
flight in a worker thread when the signal comes. ``dex-tui check`` runs in a subprocess with pipes, the
wizard in a pseudo-terminal; each must end within a second with the signal's exit code (130, 143, 129),
no traceback, no temporary file left, and the wizard with its progress saved and the terminal put back
(main screen, echo on).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import HostileServer, hang
from tests.pty_output import PtyOutput
from tests.test_secrets_support import assert_no_secret, assert_no_traceback, sigint_as_default

ROOT = Path(__file__).resolve().parent.parent
PROMPT = 1.0  # seconds: "ends at once"


@pytest.fixture
def silent_machines() -> Iterator[HostileServer]:
    """The ready tenant, except that ``/api/machines`` never answers."""
    stop = threading.Event()
    server = HostileServer("ready").start()
    server.attack("GET", "/mde/api/machines", hang(stop))
    yield server
    stop.set()
    server.stop()


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSH_", "DEX_TUI_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["TMPDIR"] = str(tmp)  # where the combined CA bundle goes: it must be gone afterwards
    return env


def _argv(server: HostileServer, state_dir: Path, *command: str) -> list[str]:
    return [sys.executable, "-m", "dex_tui", "--login-url", server.login_url, "--graph-url", server.graph_url,
            "--mde-url", server.mde_url, "--ca-bundle", server.ca_file, "--state-dir", str(state_dir),
            "--token-cache", "memory", *command]


def _wait_for_the_read(server: HostileServer, process: subprocess.Popen, what: str = "") -> None:
    deadline = time.monotonic() + 60
    while server.requests_to("/mde/api/machines") == 0:
        assert process.poll() is None, f"ended before the read: {what}"
        assert time.monotonic() < deadline, "the devices read never started"
        time.sleep(0.02)
    time.sleep(0.2)  # the read is now blocked in its worker thread


@pytest.mark.parametrize(("signals", "code", "last_line"), [
    pytest.param((signal.SIGINT,), 130, "dex-tui: interrupted.", id="ctrl-c"),
    pytest.param((signal.SIGINT, signal.SIGINT), 130, "dex-tui: interrupted.", id="ctrl-c-twice"),
    pytest.param((signal.SIGTERM,), 143, "dex-tui: stopped by SIGTERM.", id="sigterm"),
    pytest.param((signal.SIGHUP,), 129, "dex-tui: stopped by SIGHUP.", id="sighup"),
])
def test_a_signal_with_a_read_in_flight_ends_check_at_once(silent_machines: HostileServer, tmp_path: Path,
                                                          signals: tuple[int, ...], code: int,
                                                          last_line: str) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    report = tmp_path / "report.json"
    process = subprocess.Popen(_argv(silent_machines, tmp_path / "state", "check", "--output", str(report)),
                               cwd=ROOT, env=_env(temp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=sigint_as_default)
    try:
        _wait_for_the_read(silent_machines, process)
        sent = time.monotonic()
        for number in signals:
            process.send_signal(number)
            time.sleep(0.01)
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert took < PROMPT, f"the process lived {took:.2f} s after the signal"
    assert err.strip().splitlines()[-1] == last_line
    assert_no_traceback(out, err)
    assert_no_secret([silent_machines.cloud], {"stdout": out, "stderr": err})
    assert not report.exists()
    assert list(temp.iterdir()) == [], "a temporary file was left behind"


def test_a_normal_run_leaves_no_temporary_file(tmp_path: Path) -> None:
    from tests.test_secrets_support import start_server

    temp = tmp_path / "tmp"
    temp.mkdir()
    server = start_server("ready")
    try:
        done = subprocess.run(_argv(server, tmp_path / "state", "signin"), cwd=ROOT, env=_env(temp),
                              capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert list(temp.iterdir()) == []


# ------------------------------------------------------------------ the wizard in a terminal


class Terminal:
    """A pseudo-terminal running the wizard; ``screen`` is every byte it wrote."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env | {"TERM": "xterm-256color",
                                                                  "TEXTUAL_ANIMATIONS": "none"},
                                        stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.output = PtyOutput(self.master)

    @property
    def screen(self) -> bytes:
        return self.output.screen

    def wait_for(self, text: bytes, timeout: float = 60, since: int = 0) -> None:
        """Until ``text`` appears in what was written from byte ``since`` on."""
        deadline = time.monotonic() + timeout
        start = since
        while text not in self.screen[start:]:
            assert self.process.poll() is None, self.screen[-3000:]
            assert time.monotonic() < deadline, f"{text!r} never appeared"
            time.sleep(0.05)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def echo_on(self) -> bool:
        return bool(termios.tcgetattr(self.master)[3] & termios.ECHO)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.output.stop()
        os.close(self.master)


@pytest.mark.parametrize(("how", "code"), [
    pytest.param("ctrl-c", 130, id="ctrl-c"),
    pytest.param(signal.SIGTERM, 143, id="sigterm"),
    pytest.param(signal.SIGHUP, 129, id="sighup"),
])
def test_the_wizard_ends_at_once_with_a_read_in_flight(silent_machines: HostileServer, tmp_path: Path,
                                                      how: object, code: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    state = tmp_path / "state"
    terminal = Terminal(_argv(silent_machines, state), _env(temp))
    try:
        terminal.wait_for(b"Welcome")
        echo_before = terminal.echo_on()
        mark = len(terminal.screen)
        terminal.press(b"\x0e")  # Ctrl+N: on to Sign in (the loopback fake approves the code itself)
        terminal.wait_for(b"Signed in", since=mark)
        mark = len(terminal.screen)
        terminal.press(b"\x0e")  # on to the checks (their reads may have started on Sign in already)
        terminal.wait_for(b"Eligibility", since=mark)
        _wait_for_the_read(silent_machines, terminal.process, terminal.screen[-2000:].decode(errors="replace"))
        sent = time.monotonic()
        if how == "ctrl-c":
            terminal.press(b"\x03")
        else:
            terminal.process.send_signal(how)  # type: ignore[arg-type]
        returned = terminal.process.wait(timeout=30)
        took = time.monotonic() - sent
        time.sleep(0.2)  # the last bytes reach the reader
        screen = terminal.screen
        echo_after = terminal.echo_on()
    finally:
        terminal.close()
    assert returned == code, screen[-3000:]
    assert took < PROMPT, f"the wizard lived {took:.2f} s after {how}"
    assert not echo_before and echo_after, "echo was not put back"
    assert screen.rfind(b"\x1b[?1049l") > screen.rfind(b"\x1b[?1049h"), "left in the alternate screen"
    assert b"Traceback" not in screen
    saved = json.loads(next((state / "progress").glob("*.json")).read_text())
    assert saved["step"] == "eligibility"
    assert list(temp.iterdir()) == [], "a temporary file was left behind"


def test_a_normal_end_still_runs_every_clean_up_but_skips_the_last_collections(tmp_path: Path) -> None:
    """finish() freezes the heap (the interpreter's final garbage collections walk nothing); atexit
    handlers, the registered clean-ups and flushing still run, and nothing complains on stderr."""
    marks = tmp_path / "marks"
    script = f"""
import atexit, gc, sys
from dex_tui.shutdown import finish, on_exit
atexit.register(lambda: open({str(marks)!r}, "a").write("atexit "))
on_exit(lambda: open({str(marks)!r}, "a").write("cleanup "))
sys.stdout.write("unflushed ")
code = finish(3)
sys.stdout.write(f"frozen={{gc.get_freeze_count() > 1000}}")
sys.exit(code)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert (done.returncode, done.stdout, done.stderr) == (3, "unflushed frozen=True", "")
    assert marks.read_text().split() == ["cleanup", "atexit"]
