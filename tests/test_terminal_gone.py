"""The wizard's terminal goes away and no SIGHUP comes (``sudo`` with ``use_pty`` over an SSH session
that drops): the wizard ends as on a hang-up, for real, in a pseudo-terminal.

The pseudo-terminal's master side is closed (the terminal is hung up: reads return nothing, writes
fail with EIO, ``poll`` says POLLHUP); or only the input's terminal goes, the screen's stays (so what
the wizard writes on its way out can be read); or a read fails with EIO. The wizard started with
``start_new_session``, so the terminal is not its controlling one and the kernel sends no SIGHUP.
Each time it must end within two seconds with exit 129 (SIGHUP's), without spinning (its CPU time
after the terminal went is measured), with its progress saved, its tenant lock free for the next run,
the unclean-exit marker left (the terminal could not be put back) and no traceback. SIGTERM as the
terminal goes ends it with 143, the same way.
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
import time
from pathlib import Path

import pytest

from dex_tui.localfiles import take_lock
from screens.terminal_gone import EndOnce
from tests.pty_output import PtyOutput
from tests.test_attacks_signals import _env
from tests.test_secrets_support import assert_no_traceback

ROOT = Path(__file__).resolve().parent.parent
ENDS_WITHIN = 2.0  # seconds from the terminal going away to the process gone
CPU_AFTER = 0.6  # seconds of CPU the wizard may use after that: saving and unmounting, never a busy loop
TENANT = "demo-ready"

# The wizard with every read of its terminal failing (EIO) from the first one that holds Ctrl+\ on.
EIO_AFTER_CTRL_BACKSLASH = """
import errno, os, runpy, sys
real_read, broken = os.read, []
def read(fd, size):
    if fd != 0:
        return real_read(fd, size)
    if not broken:
        data = real_read(fd, size)
        if b"\\x1c" not in data:
            return data
        broken.append(True)
    raise OSError(errno.EIO, os.strerror(errno.EIO))
os.read = read
sys.argv = ["dex-tui", *sys.argv[1:]]
runpy.run_module("dex_tui", run_name="__main__", alter_sys=True)
"""


class Pty:
    """One pseudo-terminal; a thread keeps what the wizard writes to it, until :meth:`hang_up` closes
    its master side (the thread stops first: a read blocked on the master would keep it open)."""

    def __init__(self, rows: int = 24, columns: int = 80) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.output = PtyOutput(self.master)
        self.closed = False

    @property
    def screen(self) -> bytes:
        return self.output.screen

    def hang_up(self) -> None:
        self.output.stop()
        if not self.closed:
            self.closed = True
            os.close(self.master)

    def release_slave(self) -> None:
        """The child has its side: only it holds the slave now."""
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def close(self) -> None:
        self.hang_up()
        self.release_slave()


class Wizard:
    """``dex-tui --demo`` reading ``keyboard`` and drawing on ``screen`` (the same terminal, or two)."""

    def __init__(self, state: Path, tmp: Path, *, separate_input: bool = False, program: list[str] | None = None):
        self.screen = Pty()
        self.keyboard = Pty() if separate_input else self.screen
        argv = [sys.executable, *(program or ["-m", "dex_tui"]), "--demo", "--state-dir", str(state)]
        env = _env(tmp) | {"TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"}
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=self.keyboard.slave, stdout=self.screen.slave,
                                        stderr=self.screen.slave, start_new_session=True)
        self.screen.release_slave()
        self.keyboard.release_slave()
        self.code: int | None = None
        self.cpu_total = 0.0

    def wait_for(self, text: bytes, since: int = 0, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen.screen[since:]:
            assert self.process.poll() is None, self.screen.screen[-3000:]
            assert time.monotonic() < deadline, f"{text!r} never appeared"
            time.sleep(0.05)

    def press(self, keys: bytes) -> None:
        os.write(self.keyboard.master, keys)

    def cpu(self) -> float:
        """CPU seconds the wizard has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait(self, timeout: float) -> float | None:
        """Seconds until it ended (reaped with its resource usage), or None when it lives on."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.code = self.process.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_total = usage.ru_utime + usage.ru_stime
                return time.monotonic() - start
            time.sleep(0.01)
        return None

    def close(self) -> None:
        if self.code is None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.screen.close()
        if self.keyboard is not self.screen:
            self.keyboard.close()


def _on_welcome(wizard: Wizard) -> float:
    wizard.wait_for(b"Welcome")
    wizard.wait_for(b"palette")  # the footer: the first frame is complete
    time.sleep(0.5)
    return wizard.cpu()


def _on_sign_in(wizard: Wizard) -> float:
    _on_welcome(wizard)
    mark = len(wizard.screen.screen)
    wizard.press(b"\x0e")  # Ctrl+N: on to Sign in, whose countdown redraws every second
    wizard.wait_for(b"Expires in", since=mark)
    time.sleep(1.5)
    return wizard.cpu()


def _assert_ended_as_a_hang_up(wizard: Wizard, took: float | None, cpu_before: float, state: Path,
                               step: str) -> None:
    assert took is not None, (f"the wizard still runs {ENDS_WITHIN} s after its terminal went, having used "
                              f"{wizard.cpu() - cpu_before:.2f} s of CPU since")
    spent = wizard.cpu_total - cpu_before
    assert wizard.code == 128 + signal.SIGHUP, wizard.screen.screen[-3000:]
    assert spent < CPU_AFTER, f"{spent:.2f} s of CPU in the {took:.2f} s after the terminal went"
    saved = json.loads((state / "progress" / f"{TENANT}.json").read_text())
    assert saved["step"] == step
    take_lock(state / "locks" / f"{TENANT}.lock").release()  # free: the next run can have the tenant
    assert (state / "running" / f"{TENANT}.json").is_file(), "the unclean-exit marker is gone"


@pytest.mark.parametrize("step", ["welcome", "signin"])
def test_a_terminal_that_hangs_up_without_sighup_ends_the_wizard_as_a_hang_up(tmp_path: Path, step: str) -> None:
    state = tmp_path / "state"
    wizard = Wizard(state, tmp_path)
    try:
        cpu_before = _on_welcome(wizard) if step == "welcome" else _on_sign_in(wizard)
        if step == "welcome":
            assert not (state / "progress" / f"{TENANT}.json").exists()  # so the ending is what saves it
        wizard.screen.hang_up()
        took = wizard.wait(ENDS_WITHIN)
        _assert_ended_as_a_hang_up(wizard, took, cpu_before, state, step)
    finally:
        wizard.close()


def test_the_next_run_after_a_terminal_gone_resumes_and_says_how_to_mend_the_terminal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = Wizard(state, tmp_path)
    try:
        _on_sign_in(first)
        first.screen.hang_up()
        assert first.wait(ENDS_WITHIN) is not None
    finally:
        first.close()
    second = Wizard(state, tmp_path)
    try:
        second.wait_for(b"Expires in")  # resumed on Sign in, not refused as "open in another dex-tui"
        screen = second.screen.screen.decode(errors="replace")
        assert "did not end cleanly" in screen and "another dex-tui" not in screen
        second.press(b"\x03")  # Ctrl+C: a clean end this time
        assert second.wait(10) is not None and second.code == 130
    finally:
        second.close()


@pytest.mark.parametrize("how", ["input at end of file", "a read failing with EIO"])
def test_a_keyboard_that_ends_or_fails_ends_the_wizard_and_its_screen_is_put_back(tmp_path: Path, how: str) -> None:
    """Only the keyboard's side goes (its own terminal hangs up, or a read of it fails with EIO); the
    screen's terminal is still there, so what the wizard writes on its way out can be read: the main
    screen back, and no traceback."""
    state = tmp_path / "state"
    if how == "input at end of file":
        wizard = Wizard(state, tmp_path, separate_input=True)
    else:
        wizard = Wizard(state, tmp_path, program=["-c", EIO_AFTER_CTRL_BACKSLASH])
    try:
        cpu_before = _on_welcome(wizard)
        if how == "input at end of file":
            wizard.keyboard.hang_up()
        else:
            wizard.press(b"\x1c")  # Ctrl+\: from this read on, every read of the keyboard fails
        took = wizard.wait(ENDS_WITHIN)
        time.sleep(0.2)  # the last bytes reach the reader
        screen = wizard.screen.screen
        _assert_ended_as_a_hang_up(wizard, took, cpu_before, state, "welcome")
    finally:
        wizard.close()
    assert screen.rfind(b"\x1b[?1049l") > screen.rfind(b"\x1b[?1049h"), "left in the alternate screen"
    assert_no_traceback(screen.decode(errors="replace"))


def _saved(state: Path) -> int:
    """The progress file's inode (a save replaces the file), 0 while there is none."""
    try:
        return (state / "progress" / f"{TENANT}.json").stat().st_ino
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("step", ["welcome", "signin"])
def test_sigterm_then_the_terminal_going_ends_the_wizard_with_143(tmp_path: Path, step: str) -> None:
    """SIGTERM, and the terminal goes while the wizard is ending (its progress just saved): it still
    ends at once with SIGTERM's code, the first cause."""
    state = tmp_path / "state"
    wizard = Wizard(state, tmp_path)
    try:
        cpu_before = _on_welcome(wizard) if step == "welcome" else _on_sign_in(wizard)
        before = _saved(state)
        wizard.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + ENDS_WITHIN
        while _saved(state) == before and wizard.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        wizard.screen.hang_up()  # while the wizard is ending: its last writes fail
        took = wizard.wait(ENDS_WITHIN)
        assert took is not None, f"the wizard still runs {ENDS_WITHIN} s after SIGTERM"
    finally:
        wizard.close()
    assert wizard.code == 128 + signal.SIGTERM
    assert wizard.cpu_total - cpu_before < CPU_AFTER
    assert _saved(state) != before
    assert json.loads((state / "progress" / f"{TENANT}.json").read_text())["step"] == step
    take_lock(state / "locks" / f"{TENANT}.lock").release()


@pytest.mark.parametrize("attempt", range(3))
def test_the_terminal_going_with_sighup_and_sigterm_at_once_ends_it_with_progress_saved(tmp_path: Path,
                                                                                    attempt: int) -> None:
    """What sudo's monitor does when its terminal goes: SIGHUP and SIGTERM together, as the terminal
    hangs up. The second signal must not cut the ending short (was, about one run in 40: Terminated
    raised into the event loop, which swallowed it, as the first ending began: no save, no exit, until
    sudo's SIGKILL)."""
    state = tmp_path / "state"
    wizard = Wizard(state, tmp_path)
    try:
        cpu_before = _on_welcome(wizard)
        wizard.screen.hang_up()
        wizard.process.send_signal(signal.SIGHUP)
        wizard.process.send_signal(signal.SIGTERM)
        took = wizard.wait(ENDS_WITHIN)
        assert took is not None, f"the wizard still runs {ENDS_WITHIN} s after SIGHUP and SIGTERM"
    finally:
        wizard.close()
    assert wizard.code in (128 + signal.SIGHUP, 128 + signal.SIGTERM)
    assert wizard.cpu_total - cpu_before < CPU_AFTER
    assert json.loads((state / "progress" / f"{TENANT}.json").read_text())["step"] == "welcome"
    assert sorted(p.name for p in (state / "progress").iterdir()) == [f"{TENANT}.json"], "a save was cut short"
    take_lock(state / "locks" / f"{TENANT}.lock").release()


def test_the_first_ending_decides_and_the_others_are_ignored() -> None:
    ended: list[int] = []
    end = EndOnce(ended.append)
    end(143)  # SIGTERM
    end(129)  # then the terminal went
    end(129)
    assert ended == [143] and end.code == 143
