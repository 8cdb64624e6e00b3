"""The summary printed when the wizard ends (issue 16 item 14, issue 20 item 6): after Finish, Ctrl+Q and
Ctrl+C, the verdict and what needs attention, the full paths of the progress, the audit trail and any
exported report, the host, and the exact command that resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dex_tui.answers import Answers, Confirmation
from dex_tui.exit_summary import exit_summary, resume_argv
from dex_tui.progress import Progress, ProgressStore
from screens.app import WizardApp
from screens.dialogs import ConfirmDialog
from tests.test_secrets_support import run_cli
from tests.test_wizard_support import NOW, make_app, reach, shown, sign_in, wait_for

OPERATOR = "admin@contoso.onmicrosoft.com"


def saved_at_review(state_dir: Path, scenario: str) -> None:
    """Progress as if the operator had walked to the review and quit there."""
    done = Confirmation(by=OPERATOR, at=NOW)
    answers = Answers(roles={"security_operator": True, "security_administrator": False},
                      acknowledgements={"skip_security_administrator": done}).confirmed("terms", done).confirmed(
        "license", done)
    ProgressStore(state_dir, f"demo-{scenario}", clock=lambda: NOW).save(Progress(
        step="review", answers=answers,
        completed=("welcome", "signin", "eligibility", "terms", "license", "permissions", "access")))


def summary_of(app: WizardApp, argv: list[str]) -> str:
    assert app.return_value is not None
    return "\n".join(exit_summary(app.core, app.return_value, argv))


@pytest.fixture(autouse=True)
def fixed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "jump-box")


async def test_finish_on_the_review_prints_the_verdict_warnings_paths_and_resume(state_dir: Path) -> None:
    saved_at_review(state_dir, "missing-entra-p1")
    app = make_app(state_dir, "missing-entra-p1")
    argv = ["--demo", "missing-entra-p1", "--state-dir", str(state_dir)]
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
        await pilot.press("ctrl+n")
        await reach(app, pilot, "review")
        await pilot.press("ctrl+n")  # Finish
        await wait_for(pilot, lambda: app.return_value is not None)
    assert app.return_value == 2
    text = summary_of(app, argv)
    assert "the wizard finished (exit code 2" in text and "on host jump-box" in text
    assert "Not ready: at least one required check failed." in text
    assert "- Security administrator skipped" in text and "- Entra ID P1 for all users (fail)" in text
    progress = state_dir.resolve() / "progress" / "demo-missing-entra-p1.json"
    assert f"Progress:    {progress} (saved)" in text
    assert f"Resume with: dex-tui --demo missing-entra-p1 --state-dir {state_dir}" in text


async def test_ctrl_q_prints_where_it_left_off_and_the_exported_report(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
        app.export_report(str(tmp_path / "r.json"), "json")
        await wait_for(pilot, lambda: bool(app.core.exports), timeout=10)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: app.return_value is not None)
    assert app.return_value == 0
    text = summary_of(app, ["--demo", "ready", "--state-dir", str(state_dir), "--restart"])
    assert "the wizard left at step 2/8 (Sign in), on host jump-box" in text
    assert f"Report:      {(tmp_path / 'r.json').resolve()} (json) on host jump-box" in text
    assert f"Audit trail: {state_dir.resolve() / 'audit' / 'demo-ready.jsonl'}" in text
    assert "--restart" not in text  # resuming never starts over
    assert "  Still to do: Terms, Licence, Manage permissions\n" in text


async def test_ctrl_c_prints_that_it_stopped_and_how_to_resume(state_dir: Path) -> None:
    app = make_app(state_dir, "fresh")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_value is not None)
    assert app.return_value == 130
    text = summary_of(app, [])
    assert "stopped with Ctrl+C at step 1/8 (Welcome)" in text
    assert "No verdict: the checks did not run in this session" in text
    assert "Audit trail: nothing recorded yet" in text
    assert f"Resume with: dex-tui --demo fresh --state-dir {state_dir}" in text


def test_the_wizard_prints_the_summary_once_the_app_has_ended(state_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    def quit_at_once(self: WizardApp, *args: object, **kwargs: object) -> int:
        self.core.save_progress()
        return 0

    monkeypatch.setattr(WizardApp, "run", quit_at_once)
    monkeypatch.setattr("dex_tui.cli.missing_terminal", lambda: None)  # as if in a terminal
    result = run_cli(["--demo", "ready", "--state-dir", str(state_dir)], capsys)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "dex-tui: the wizard left at step 1/8 (Welcome), on host jump-box."
    assert lines[-1] == f"  Resume with: dex-tui --demo ready --state-dir {state_dir}"


def test_a_hostile_host_name_is_neutralised(state_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "box\x1b]0;owned\x07\u202e")
    monkeypatch.setattr(WizardApp, "run", lambda self, *args, **kwargs: 0)
    monkeypatch.setattr("dex_tui.cli.missing_terminal", lambda: None)
    result = run_cli(["--demo", "ready", "--state-dir", str(state_dir)], capsys)
    assert "\x1b" not in result.out and "\x07" not in result.out and "\u202e" not in result.out
    assert "on host box␛" in result.out


def test_the_resume_command_keeps_the_options_and_follows_the_welcome_tenant() -> None:
    argv = ["--client-id", "11111111-2222-3333-4444-555555555555", "--tenant", "old.example", "--restart"]
    assert resume_argv(argv, "old.example", "old.example") == ["dex-tui", *argv[:4]]
    assert resume_argv(argv, "new.example", "old.example") == [
        "dex-tui", "--client-id", "11111111-2222-3333-4444-555555555555", "--tenant", "new.example"]
    assert resume_argv(["--tenant=old.example"], None, "old.example") == ["dex-tui"]
