"""The export dialog (issue 16 item 12): errors in the wizard's words with the typed path kept, an existing
file replaced only after asking, the last path remembered, the host named (issue 20 item 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from dex_tui.errors import UsageError
from screens.app import WizardApp
from screens.dialogs import ConfirmDialog, ErrorDialog
from screens.export import ExportDialog
from tests.test_wizard_support import make_app, shown, sign_in, wait_for


async def open_export(app: WizardApp, pilot: Pilot[Any]) -> ExportDialog:
    """Signed in with the checks done, the export dialog open (as e on the review or the palette)."""
    if app.session is None:
        await sign_in(app, pilot)
        await wait_for(pilot, lambda: not app.checks_running and bool(app.results), timeout=15)
    app.action_export()
    await wait_for(pilot, lambda: shown(app, ExportDialog))
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    return dialog


async def type_path(pilot: Pilot[Any], dialog: ExportDialog, path: str) -> None:
    field = dialog.query_one("#export-path", Input)
    field.value = path
    field.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def error_text(dialog: ExportDialog) -> str:
    return str(dialog.query_one("#export-error", Static).render())


def audited(app: WizardApp) -> list[dict[str, Any]]:
    path = app.core.audit.path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_path_that_cannot_be_written_keeps_the_dialog_and_the_path(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir)
    typed = str(tmp_path / "no-such-folder" / "report.json")
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_export(app, pilot)
        await type_path(pilot, dialog, typed)
        assert app.screen is dialog  # still open
        assert dialog.query_one("#export-path", Input).value == typed
        said = error_text(dialog)
        assert "does not exist" in said and "--output" not in said and "Create it first" in said
        (tmp_path / "a-folder").mkdir()
        await type_path(pilot, dialog, str(tmp_path / "a-folder"))
        assert app.screen is dialog and "is a directory" in error_text(dialog)
        await pilot.press("escape")  # Esc cancels: nothing written, nothing recorded
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog))
    assert not (tmp_path / "no-such-folder").exists() and audited(app) == []


async def test_an_existing_file_is_replaced_only_after_asking(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir)
    target = tmp_path / "report.json"
    target.write_text("keep me", encoding="utf-8")
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_export(app, pilot)
        await type_path(pilot, dialog, str(target))
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        question = app.screen
        assert isinstance(question, ConfirmDialog) and str(target) in question.question
        assert "on host" in question.question
        await pilot.press("escape")  # keeps the file; back in the export dialog with the path
        await wait_for(pilot, lambda: app.screen is dialog)
        assert target.read_text(encoding="utf-8") == "keep me"
        assert dialog.query_one("#export-path", Input).value == str(target) and "Kept" in error_text(dialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app, ConfirmDialog))
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: bool(app.core.exports), timeout=10)
    assert json.loads(target.read_text(encoding="utf-8"))["verdict"]
    [event] = audited(app)
    assert event["event"] == "report_exported" and event["path"] == str(target.resolve())


async def test_the_dialog_opens_on_the_last_path_and_format(state_dir: Path, tmp_path: Path) -> None:
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_export(app, pilot)
        assert dialog.query_one("#export-path", Input).value.startswith("dex-tui-report-")
        await pilot.press("down")  # the format list has the focus: Markdown
        await pilot.press("enter")
        await pilot.pause()
        await type_path(pilot, dialog, str(tmp_path / "mine.md"))
        await wait_for(pilot, lambda: bool(app.core.exports), timeout=10)
        again = await open_export(app, pilot)
        assert again.query_one("#export-path", Input).value == str(tmp_path / "mine.md")
        assert again._format() == "markdown"
        again.query_one("#export-path", Input).value = str(tmp_path / "mine.json")
        await pilot.pause()
        assert again._format() == "json"  # a typed extension picks its format
        assert "on host" in str(again.query_one("#export-where", Static).render())
    assert (tmp_path / "mine.md").read_text(encoding="utf-8").startswith("#")


async def test_a_write_that_fails_after_the_check_says_why_and_reopens_the_dialog(
        state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(state_dir)
    typed = str(tmp_path / "full-disk.json")

    def disk_full(report: object, path: str, fmt: str) -> str:
        raise UsageError(f"Cannot write {path!r} (No space left on device).", next_step="Free some space.")

    monkeypatch.setattr(app.core, "write_report", disk_full)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_export(app, pilot)
        await type_path(pilot, dialog, typed)
        await wait_for(pilot, lambda: shown(app, ErrorDialog), timeout=10)
        assert "No space left" in app.screen.error.explanation and "--output" not in app.screen.error.explanation
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app, ExportDialog))
        assert app.screen.query_one("#export-path", Input).value == typed
    assert app.core.exports == [] and audited(app) == []
