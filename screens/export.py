"""The export dialog: choose the report's format and where to write it."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioSet, Static

from screens.toggles import Choice

FORMATS = {"json": ".json", "markdown": ".md", "html": ".html"}
FORMAT_LABELS = {"json": "JSON (the source of truth)", "markdown": "Markdown", "html": "HTML (one file)"}


def with_extension(path: str, fmt: str) -> str:
    """``path`` with the extension of ``fmt`` when it ends in another known report extension."""
    current = Path(path)
    if current.suffix in FORMATS.values():
        return str(current.with_suffix(FORMATS[fmt]))
    return path


class ExportDialog(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (path, format), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]
    AUTO_FOCUS = "#export-format"

    def __init__(self, default_name: str) -> None:
        super().__init__(classes="dialog")
        self.default_name = default_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static("Export the readiness report", classes="dialog-title")
            yield Label("Format")
            with RadioSet(id="export-format"):
                for fmt, label in FORMAT_LABELS.items():
                    yield Choice(label, value=fmt == "json", id=f"format-{fmt}")
            yield Label("File (relative to the directory you started dex-tui in, or absolute)")
            yield Input(self.default_name, id="export-path", compact=True)
            yield Static("", id="export-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="export-cancel", compact=True)
                yield Button("Export", id="export-go", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).cursor_blink = False

    def _format(self) -> str:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        return (pressed.id or "format-json").removeprefix("format-") if pressed else "json"

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self) -> None:
        field = self.query_one("#export-path", Input)
        field.value = with_extension(field.value, self._format())

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def _export(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        error = self.query_one("#export-error", Static)
        if not path:
            error.update("Type a file name.")
            return
        fmt, suffix = self._format(), Path(path).suffix.lower()
        if suffix in FORMATS.values() and suffix != FORMATS[fmt]:
            error.update(f"The file ends in {suffix} but the format is {FORMAT_LABELS[fmt].split(' (')[0]}: "
                         "choose the matching format, or change the name.")
            return
        self.dismiss((path, fmt))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
