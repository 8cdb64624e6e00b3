"""Bad input end to end: malformed config and scenario files through the real commands, a corrupt
progress file or one from another version (set aside with a notice, then a clean start), an unwritable
state directory (CLI and wizard), a terminal too small, and Ctrl+C (exit 130, progress kept). Every case
ends with one clear line or dialog, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Button

from dex_tui.demo import load_scenario
from dex_tui.flow import steps_for
from dex_tui.progress import PROGRESS_VERSION
from screens.textdump import screen_text
from tests.test_secrets_support import (
    assert_no_secret,
    assert_no_traceback,
    ctrl_c_raises,
    record_clouds,
    run_cli,
    sigint_as_default,
    start_server,
)
from tests.test_wizard_support import NOW, make_app, sign_in, wait_for

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = "progress/demo-ready.json"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dex-tui: ")
    return lines[0]


# ------------------------------------------------------------------ config and scenario files


@pytest.mark.parametrize(("content", "fragment"), [
    pytest.param(b"tenant = ", "is not valid TOML", id="not-toml"),
    pytest.param(b'tenant = "contoso.onmicrosoft.com"\naccess_token = "x"\n', "unknown setting 'access_token'",
                 id="unknown-key"),
    pytest.param(b"state_dir = 7\n", "state_dir must be a string", id="wrong-type"),
    pytest.param(b'login_url = "http://login.microsoftonline.com"\n', "is not an https:// URL", id="http-url"),
    pytest.param(b"\xff\xfe\x00garbage", "is not UTF-8 text", id="binary"),
])
def test_malformed_config_file_stops_every_command_with_one_line(tmp_path: Path, capsys, content: bytes,
                                                                 fragment: str) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    for argv in (["--config", str(config), "--demo", "ready", "signin"], ["--config", str(config)]):
        result = run_cli(argv, capsys)
        assert result.code == 4
        line = _one_error_line(result.err)
        assert str(config) in line and fragment in line, line
        assert result.out == ""
        assert_no_traceback(result.err, result.logs)


def test_config_that_is_a_directory_is_refused(tmp_path: Path, capsys) -> None:
    result = run_cli(["--config", str(tmp_path), "--version"], capsys)
    assert result.code == 4
    assert str(tmp_path) in _one_error_line(result.err)


@pytest.mark.parametrize(("body", "fragment"), [
    pytest.param("[scenario\nname = 1", "is not valid TOML", id="not-toml"),
    pytest.param('[scenario]\nextends = "ready"\nname = "x"\n[tenant]\nid = 7\n', "field tenant.id", id="type"),
    pytest.param('[scenario]\nextends = "ready"\nname = "x"\n[[behaviour.faults]]\nendpoint = "graph.me"\n'
                 'kind = "explode"\n', "field behaviour.faults[0].kind", id="fault-kind"),
    pytest.param('[scenario]\nextends = "ready"\nname = "x"\n[operator]\npassword = "hunter2"\n',
                 "field operator.password", id="unknown-field"),
    pytest.param('[scenario]\nextends = "x"\nname = "x"\n', "not a shipped scenario", id="extends-unknown"),
])
def test_malformed_scenario_file_stops_demo_and_demo_server(tmp_path: Path, capsys, monkeypatch, body: str,
                                                            fragment: str) -> None:
    from screens.app import WizardApp

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the wizard started on a scenario that does not load")

    monkeypatch.setattr(WizardApp, "run", never)
    monkeypatch.setattr("dex_tui.cli.missing_terminal", lambda: None)  # as if in a terminal
    scenario = tmp_path / "x.toml"
    scenario.write_text(body, encoding="utf-8")
    (tmp_path / "x").mkdir()  # extends = "x" must not find a directory either
    for argv in (["--demo", str(scenario), "signin"], ["demo-server", "--scenario", str(scenario)],
                 ["--demo", str(scenario), "--state-dir", str(tmp_path / "state")]):
        result = run_cli(argv, capsys)
        assert result.code == 4, result.err
        line = _one_error_line(result.err)
        assert str(scenario) in line and fragment in line, line
        assert_no_traceback(result.out, result.err, result.logs)


def test_missing_scenario_file_and_unknown_name(tmp_path: Path, capsys) -> None:
    missing = run_cli(["--demo", str(tmp_path / "absent.toml"), "signin"], capsys)
    assert missing.code == 4 and "does not exist" in _one_error_line(missing.err)
    unknown = run_cli(["--demo", "no-such-tenant", "signin"], capsys)
    assert unknown.code == 4 and "ready" in _one_error_line(unknown.err)


def test_a_scenario_file_given_to_demo_is_used(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "mine.toml"
    scenario.write_text('[scenario]\nextends = "ready"\nname = "mine"\n[operator]\nname = "Grace Hopper"\n',
                        encoding="utf-8")
    result = run_cli(["--demo", str(scenario), "signin"], capsys)
    assert result.code == 0 and "Signed in as Grace Hopper" in result.out


@pytest.mark.parametrize(("content", "fragment"), [
    pytest.param("service = ", "is not valid TOML", id="not-toml"),
    pytest.param('service = "xdr"\naccess_token = "x"\n', "unknown field 'access_token'", id="unknown-field"),
    pytest.param('service = "xdr2"\n', "service must be one of xdr, hunting, mdr", id="bad-service"),
    pytest.param('service = "mdr"\n[mdr]\naccess_levels = ["security_admin"]\n',
                 "mdr.access_levels: 'security_admin' is not an access level", id="bad-access-level"),
    pytest.param('[mdr]\n[[mdr.contacts]]\naddress = "not an address"\nfor = "service_review"\n',
                 "mdr.contacts[0].address: 'not an address' is not an e-mail address", id="bad-contact"),
    pytest.param('[hunting]\nsample = true\n', "hunting.sample is not a known key", id="bad-hunting-key"),
    pytest.param('[terms]\nby = "me"\nat = "yesterday"\n', "'at' = 'yesterday' is not an ISO 8601", id="bad-date"),
    pytest.param("[terms]\nat = 2026-01-01T00:00:00Z\n", "needs 'by'", id="no-by"),
    pytest.param("[roles]\nsecurity_reader = false\n", "security_reader is required", id="no-reader"),
])
def test_malformed_answers_file_stops_check_with_one_line(tmp_path: Path, capsys, content: str,
                                                          fragment: str) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(content, encoding="utf-8")
    result = run_cli(["--demo", "ready", "check", "--answers", str(answers)], capsys)
    assert result.code == 4
    line = _one_error_line(result.err)
    assert str(answers) in line and fragment in line, line
    assert result.out == ""
    assert_no_traceback(result.err, result.logs)


def test_missing_answers_file(tmp_path: Path, capsys) -> None:
    result = run_cli(["--demo", "ready", "check", "--answers", str(tmp_path / "none.toml")], capsys)
    assert result.code == 4 and "does not exist" in _one_error_line(result.err)


# ------------------------------------------------------------------ progress files


BAD_PROGRESS = [
    pytest.param(b"{broken", "Expecting", id="not-json"),
    pytest.param(json.dumps({"version": PROGRESS_VERSION + 1, "step": "terms"}).encode(),
                 f"format version {PROGRESS_VERSION + 1}", id="newer-version"),
    pytest.param(json.dumps({"version": 0, "step": "welcome"}).encode(), "format version 0", id="older-version"),
    pytest.param(b"\x00\x01\x02\xff", "utf-8", id="binary"),
    pytest.param(b"", "Expecting", id="empty"),
]


@pytest.mark.parametrize(("content", "reason"), BAD_PROGRESS)
def test_bad_progress_is_set_aside_with_the_reason(state_dir: Path, content: bytes, reason: str) -> None:
    from dex_tui.progress import ProgressStore

    store = ProgressStore(state_dir, "demo-ready")
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    loaded = store.load()
    assert loaded.progress is None and reason in loaded.notice and "starting over" in loaded.notice
    aside = list(store.path.parent.glob("demo-ready.json.set-aside-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content  # kept as it was, for a person to look at


@pytest.mark.parametrize(("content", "reason"), [BAD_PROGRESS[0], BAD_PROGRESS[1]])
async def test_bad_progress_is_set_aside_and_the_wizard_starts_clean(state_dir: Path, content: bytes,
                                                                     reason: str) -> None:
    progress = state_dir / PROGRESS
    progress.parent.mkdir(parents=True)
    progress.write_bytes(content)
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "could not be used" in text and "starting over" in text and reason in text
        assert app.flow.step == "welcome" and app.flow.answers.terms is None
        await pilot.press("ctrl+n")  # the clean start goes on and saves a good file again
        await wait_for(pilot, lambda: app.flow.step == "signin")
    assert len(list(progress.parent.glob("demo-ready.json.set-aside-*"))) == 1
    assert json.loads(progress.read_text())["version"] == PROGRESS_VERSION


async def test_progress_path_taken_by_a_directory_is_a_notice_not_a_crash(state_dir: Path) -> None:
    (state_dir / PROGRESS).mkdir(parents=True)
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "starting over" in " ".join(screen_text(app).split())
        await pilot.press("ctrl+c")
    assert app.return_value == 130


# ------------------------------------------------------------------ unwritable state directory


def _unwritable(tmp_path: Path) -> Path:
    """A state directory that cannot be created or written, even by root: its parent is a file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    return blocker / "state"


def test_state_dir_that_is_a_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = run_cli(["--state-dir", str(target), "--demo", "ready", "signin"], capsys)
    assert result.code == 4 and "is not a directory" in _one_error_line(result.err)


def test_sign_in_goes_on_when_the_state_dir_cannot_be_written(tmp_path: Path, memory_keyring, capsys) -> None:
    server = start_server("ready")
    try:
        state = _unwritable(tmp_path)
        argv = ["--login-url", server.login_url, "--graph-url", server.graph_url, "--mde-url", server.mde_url,
                "--ca-bundle", server.ca_file, "--state-dir", str(state), "signin"]
        result = run_cli(argv, capsys)
    finally:
        server.stop()
    assert result.code == 0, result.err
    assert "Signed in as Megan Bowen" in result.out
    assert f"Note: Sign-in will not be remembered: the folder {state / 'auth'} cannot be written (Not a directory)" \
        in result.err
    assert f"Token cache: memory only (the folder {state / 'auth'} cannot be written)" in result.err
    assert memory_keyring.store == {}  # no key left behind for a cache that can never be written
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret([server.cloud], result.sources())


async def test_wizard_goes_on_when_progress_and_audit_cannot_be_written(tmp_path: Path) -> None:
    state = _unwritable(tmp_path)
    app = make_app(state)
    app.notifications_enabled = True
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await sign_in(app, pilot)
        assert any("could not be saved" in str(n.message) for n in app._notifications)
        app.goto("terms")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "terms")
        await pilot.pause()
        await pilot.press("end")
        accept = app.screen.query_one("#accept", Button)
        await wait_for(pilot, lambda: not accept.disabled)
        accept.press()
        await wait_for(pilot, lambda: app.flow.answers.terms is not None)
        assert any("audit trail" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert not state.exists()


# ------------------------------------------------------------------ terminal too small


@pytest.mark.parametrize("size", [(40, 12), (24, 8)])
async def test_terminal_too_small_still_works_and_recovers(state_dir: Path, size: tuple[int, int]) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "Next" in screen_text(app)  # the way on is still on screen
        await pilot.press("ctrl+n")
        await sign_in(app, pilot)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        text = screen_text(app)
        assert "Megan Bowen <admin@contoso.onmicrosoft.com>" in text and "Next" in text
        await pilot.resize_terminal(*size)
        await pilot.pause()
        await pilot.press("ctrl+c")
    assert app.return_value == 130


# ------------------------------------------------------------------ Ctrl+C


@pytest.mark.parametrize("step", [s.id for s in steps_for("xdr")])
async def test_ctrl_c_on_every_step_keeps_progress_and_exits_130(state_dir: Path, step: str) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        if step != "welcome":
            await sign_in(app, pilot)
            if step != "signin":
                app.goto(step)
            await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == step and app.screen.is_mounted)
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_value == 130
    saved = json.loads((state_dir / PROGRESS).read_text())
    assert saved["step"] == step


def test_ctrl_c_escaping_the_wizard_keeps_progress_and_exits_130(state_dir: Path, monkeypatch, capsys) -> None:
    """A KeyboardInterrupt that reaches ``dex-tui`` itself (outside Textual's own Ctrl+C key) still saves
    the progress, here a resumed run on the terms step, and exits 130."""
    from dex_tui.answers import Answers, Confirmation
    from dex_tui.progress import Progress, ProgressStore
    from screens.app import WizardApp

    saved = Progress(step="terms", answers=Answers(confirmations={"license": Confirmation(by="me@contoso.com", at=NOW)}),
                     completed=("welcome", "signin", "eligibility"))
    ProgressStore(state_dir, "demo-ready").save(saved)

    def interrupted(self: WizardApp, *args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(WizardApp, "run", interrupted)
    monkeypatch.setattr("dex_tui.cli.missing_terminal", lambda: None)  # as if in a terminal
    result = run_cli(["--demo", "ready", "--state-dir", str(state_dir)], capsys)
    assert result.code == 130
    kept = json.loads((state_dir / PROGRESS).read_text())
    assert kept["step"] == "terms" and kept["answers"]["license"]["by"] == "me@contoso.com"
    assert_no_traceback(result.out, result.err, result.logs)


def test_ctrl_c_while_waiting_for_the_device_code_exits_130(monkeypatch, capsys) -> None:
    """The interrupt arrives inside a network call of MSAL's polling loop, as a real Ctrl+C would."""
    recorder = record_clouds(monkeypatch)

    def interrupt_the_first_poll(cloud) -> None:
        handle = cloud.handle

        def polled(method: str, url: str, headers=None, body=None):
            text = body.decode() if isinstance(body, bytes) else str(body or "")
            if url.endswith("/oauth2/v2.0/token") and "device_code" in text:
                raise KeyboardInterrupt
            return handle(method, url, headers, body)

        cloud.handle = polled

    recorder.on_cloud = interrupt_the_first_poll
    result = run_cli(["--demo", "ready", "signin"], capsys)
    assert result.code == 130
    assert "enter the code DEMO-4821" in result.err
    assert result.err.strip().splitlines()[-1] == "dex-tui: interrupted."
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret(recorder.clouds, result.sources(), kinds=("device",))



def join_once_started(thread: threading.Thread, timeout: float = 10.0) -> None:
    """Join a read thread, also one that ``threading.enumerate`` lists while it is still starting (joining
    it then raises "cannot join thread before it is started"): wait for it to start first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            thread.join(max(0.0, deadline - time.monotonic()))
            return
        except RuntimeError:
            time.sleep(0.01)


def test_ctrl_c_while_the_checks_read_the_tenant_exits_130(monkeypatch, capsys, tmp_path: Path) -> None:
    """Ctrl+C reaches the main thread while the reads run in their threads, as a terminal's SIGINT does
    (sent to the main thread with ``pthread_kill``).

    The reads are counted under a lock: two read threads appending at once could both see four calls
    and neither send the signal, which made this test flaky under load (the check then ran to the end)."""
    recorder = record_clouds(monkeypatch)
    calls = []
    counting = threading.Lock()
    release = threading.Event()

    def interrupt_the_third_read(cloud) -> None:
        handle = cloud.handle

        def reading(method: str, url: str, headers=None, body=None):
            if "/api/deviceavinfo" in url:  # still in flight after the interrupt
                release.wait(10)
            elif "/v1.0/" in url or "/api/" in url:
                with counting:
                    calls.append(url)
                    third = len(calls) == 3
                if third:
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            return handle(method, url, headers, body)

        cloud.handle = reading

    recorder.on_cloud = interrupt_the_third_read
    report = tmp_path / "report.json"
    with ctrl_c_raises():
        result = run_cli(["--demo", "ready", "check", "--output", str(report)], capsys)
    release.set()  # the read left in flight ends now: it must print nothing after "interrupted."
    for thread in [t for t in threading.enumerate() if t.name.startswith("dex-read")]:
        join_once_started(thread)
    late = capsys.readouterr()
    assert late.err == "" and late.out == "", late
    assert result.code == 130
    assert result.err.strip().splitlines()[-1] == "dex-tui: interrupted."
    assert not report.exists() and list(tmp_path.iterdir()) == []  # no half-written report
    assert_no_traceback(result.out, result.err, result.logs)
    assert_no_secret(recorder.clouds, result.sources())


def test_real_sigint_during_headless_sign_in(tmp_path: Path) -> None:
    """A real SIGINT to a real process: exit 130 promptly, one line, no traceback, no secret.

    The code is polled every 30 s, so "promptly" is told apart from "at the next poll" with room to
    spare for a loaded machine; the signal is sent once the process says it waits for the sign-in."""
    scenario = load_scenario("ready").with_knobs(device_code={"approval": "on_demand", "interval": 30})
    server = start_server(scenario)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    argv = [sys.executable, "-m", "dex_tui", "--login-url", server.login_url, "--graph-url", server.graph_url,
            "--mde-url", server.mde_url, "--ca-bundle", server.ca_file, "--state-dir", str(tmp_path),
            "--token-cache", "memory", "signin"]
    try:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, preexec_fn=sigint_as_default)
        assert process.stderr is not None
        before = ""
        while "Waiting for the sign-in to complete" not in before:  # the polling loop has started
            line = process.stderr.readline()
            assert line, f"the sign-in ended before waiting: {before}"
            before += line
        assert server.cloud.pending_device_codes() == 1
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        waited = time.monotonic() - sent
        err = before + err
    finally:
        server.stop()
    assert process.returncode == 130, err
    assert waited < 15, f"exited {waited:.1f} s after the signal: it waited for the next poll"
    assert err.strip().splitlines()[-1] == "dex-tui: interrupted."
    assert_no_traceback(out, err)
    assert_no_secret([server.cloud], {"stdout": out, "stderr": err}, kinds=("device",))
