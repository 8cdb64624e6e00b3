"""The export dialog: choose the report's format and where to write it.

The path is checked before the dialog closes: a path that cannot be written keeps the dialog open
with what was typed and says why in plain words; an existing file is replaced only after asking.
The dialog opens on the path typed last (this run), and says the host it is written on (over SSH
that is the remote machine); the full path is said once written (toast, review, exit summary).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from dex_tui.errors import DexError
from screens.choices import ChoiceList
from screens.text import plain, tenant

FORMATS = {"json": ".json", "markdown": ".md", "html": ".html"}
FORMAT_LABELS = {"json": "JSON (the source of truth)", "markdown": "Markdown", "html": "HTML (one file)"}


def with_extension(path: str, fmt: str) -> str:
    """``path`` with the extension of ``fmt`` when it ends in another known report extension."""
    current = Path(path)
    if current.suffix in FORMATS.values():
        return str(current.with_suffix(FORMATS[fmt]))
    return path


class ExportDialog(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (path as typed, format) once the path can be written (and, for an existing file,
    the operator chose to replace it), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]
    AUTO_FOCUS = "#export-format"

    def __init__(self, default_name: str, *, check_path: Callable[[str], Path], host: str,
                 last: tuple[str, str] | None = None) -> None:
        """``check_path`` returns where a typed path would be written or raises a DexError saying why
        it cannot be; ``last`` is the (path, format) of the previous export of this run."""
        super().__init__(classes="dialog")
        self.default_name = last[0] if last else default_name
        self.default_format = last[1] if last and last[1] in FORMATS else "json"
        self.check_path = check_path
        self.host = host

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static("Export the readiness report", classes="dialog-title")
            yield Label("Format")
            yield ChoiceList([(label, fmt) for fmt, label in FORMAT_LABELS.items()], value=self.default_format,
                             id="export-format")
            yield Label("File (relative to the directory you started dex-tui in, or absolute)")
            yield Input(self.default_name, id="export-path", compact=True)
            yield Static("", id="export-where", classes="dialog-hint")
            yield Static("", id="export-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="export-cancel", compact=True)
                yield Button("Export", id="export-go", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).cursor_blink = False
        self._show_where()

    def _format(self) -> str:
        return self.query_one("#export-format", ChoiceList).value

    @on(ChoiceList.Changed, "#export-format")
    def _format_changed(self) -> None:
        field = self.query_one("#export-path", Input)
        field.value = with_extension(field.value, self._format())

    @on(Input.Changed, "#export-path")
    def _path_changed(self) -> None:
        """A name typed with another report extension (``.md`` after a JSON export) picks that format."""
        suffix = Path(self.query_one("#export-path", Input).value.strip()).suffix.lower()
        typed = next((fmt for fmt, extension in FORMATS.items() if extension == suffix), None)
        if typed is not None and typed != self._format():
            self.query_one("#export-format", ChoiceList).value = typed

    def _show_where(self) -> None:
        where = self.query_one("#export-where", Static)
        where.update(plain("Written on host ") + tenant(self.host, limit=100)
                     + plain(" (over SSH: the remote machine)."))

    def _say(self, text: str) -> None:
        self.query_one("#export-error", Static).update(plain(text, style="bold"))
        self.query_one("#export-path", Input).focus()

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def _export(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        self.query_one("#export-error", Static).update("")
        if not path:
            self._say("Type a file name.")
            return
        fmt, suffix = self._format(), Path(path).suffix.lower()
        if suffix in FORMATS.values() and suffix != FORMATS[fmt]:
            self._say(f"The file ends in {suffix} but the format is {FORMAT_LABELS[fmt].split(' (')[0]}: "
                      "choose the matching format, or change the name.")
            return
        try:
            target = self.check_path(path)
        except DexError as refused:
            self._say(refused.explanation + (f" {refused.next_step}" if refused.next_step else ""))
            return
        if not target.exists():
            self.dismiss((path, fmt))
            return
        from screens.dialogs import ConfirmDialog

        def answered(replace: bool | None) -> None:
            if replace:
                self.dismiss((path, fmt))
            else:
                self._say("Kept the existing file: choose another name, or Export again to replace it.")

        self.app.push_screen(ConfirmDialog(
            "Replace the existing file?", f"{tenant(str(target), limit=300).plain} already exists on host "
            f"{tenant(self.host, limit=100).plain}. Replace it with this report?", yes="Replace", no="Keep it"),
            answered)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
