"""Check results on screen: a grouped table whose rows fill in as results arrive, a one-check
summary under it, and a dialog with a check's evidence, remediation and source.

Every value that may come from the tenant is cleaned and shown as Text, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from dex_tui.catalogue import ALL_CHECK_IDS, catalogue
from dex_tui.results import CheckResult, Group, Status
from screens.text import plain, tenant

BADGES: dict[str, tuple[str, str]] = {
    Status.PASS: ("✔ pass", "bold green"),
    Status.WARN: ("▲ warn", "bold yellow"),
    Status.FAIL: ("✖ fail", "bold red"),
    Status.UNKNOWN: ("? unknown", "bold magenta"),
    Status.SKIPPED: ("– skipped", "dim"),
    Status.INFO: ("i info", "cyan"),
    "running": ("… checking", "dim italic"),
}
GROUP_TITLES = {Group.REQUIRED: "Required", Group.COVERAGE: "Coverage", Group.INFORMATION: "Information"}


def badge(status: str) -> Text:
    label, style = BADGES.get(status, (status, ""))
    return Text(label, style=style)


def checks_for(service: str) -> list[str]:
    """Ids of the checks that apply to ``service`` (today's flows' checks too), in the stable report order."""
    infos = catalogue().all_checks or catalogue().checks
    return [check_id for check_id in ALL_CHECK_IDS if service in infos[check_id].services]


Cells = tuple[Text, Text, Text]


def _clipped(text: Text) -> Text:
    """One line that ends in '…' where the column cuts it (the full text is in the detail below)."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class ChecksTable(DataTable[Any]):
    """All checks of a service, grouped; rows not yet known show '… checking'.

    While results stream in, :meth:`show` changes only the cells whose text changed: rebuilding the
    whole table for every result would re-render every row and reset the scroll position each time.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.results: dict[str, CheckResult] = {}
        self.check_ids: list[str] = []
        self.running = False
        self.later: dict[str, str] = {}
        self._shown: dict[str, tuple[object, ...]] = {}  # row key -> what its cells show (see _look)
        self._shown_keys: list[str] = []
        self._shown_width: int | None = None

    def _add_columns(self) -> None:
        """Columns sized to the terminal: the title column grows on wide terminals."""
        width = self.size.width or 80
        title = 30 if width < 110 else 44
        self.add_column("Status", width=10, key="status")
        self.add_column("Check", width=title, key="check")
        self.add_column("Result", width=max(20, width - 10 - title - 8), key="summary")

    def on_resize(self) -> None:
        """The column widths follow the table's width: a new width lays the table out again."""
        self.show(self.check_ids, self.results, running=self.running, later=self.later)

    def show(self, check_ids: Iterable[str], results: dict[str, CheckResult], *, running: bool,
             later: dict[str, str] | None = None) -> None:
        """Show these results (the cursor stays on the same check). ``later`` maps the ids of checks a
        later step settles to that step's title; their result says so first."""
        later = later or {}
        self.check_ids = list(check_ids)
        self.results = dict(results)
        self.running = running
        self.later = later
        width = self.size.width
        if not width:
            return  # not laid out yet: the rows are built once, when the table gets its size (on_resize)
        rows = self._rows()
        if [key for key, _ in rows] == self._shown_keys and width == self._shown_width:
            for key, cells in rows:
                look = _look(cells)
                if self._shown.get(key) != look:
                    for column, cell in zip(("status", "check", "summary"), cells, strict=True):
                        self.update_cell(key, column, cell)
                    self._shown[key] = look
            return
        self._rebuild(rows, width)

    def _rows(self) -> list[tuple[str, Cells]]:
        """Every row (group titles included) in order: its key and its three cells."""
        infos = catalogue().all_checks or catalogue().checks
        results, later = self.results, self.later
        rows: list[tuple[str, Cells]] = []
        for group in (Group.REQUIRED, Group.COVERAGE, Group.INFORMATION):
            ids = [i for i in self.check_ids if _group_of(i, results) == group]
            if not ids:
                continue
            rows.append((f"group:{group.value}", (Text(""), Text(GROUP_TITLES[group], style="bold underline"),
                                                  Text(""))))
            for check_id in ids:
                result = results.get(check_id)
                status = result.status.value if result else ("running" if self.running else Status.UNKNOWN.value)
                title = result.title if result else infos[check_id].title
                summary = tenant(result.summary, limit=300) if result else Text("")
                if check_id in later and result is not None and result.status.value != "pass":
                    summary = plain(f"→ {later[check_id]} step. ", style="bold") + summary
                rows.append((check_id, (badge(status), _clipped(plain(title)), _clipped(summary))))
        return rows

    def _rebuild(self, rows: list[tuple[str, Cells]], width: int) -> None:
        selected = self.selected_id()
        self.clear(columns=True)
        self._add_columns()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._shown = {key: _look(cells) for key, cells in rows}
        self._shown_keys = [key for key, _ in rows]
        self._shown_width = width
        if selected and selected in self.check_ids:
            self.move_cursor(row=self.get_row_index(selected))
        elif self.row_count:
            self.move_cursor(row=1)

    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # an empty or resetting table has no cell under the cursor
            return None
        return None if key is None or key.startswith("group:") else key


def _look(cells: Cells) -> tuple[object, ...]:
    """What three cells show: their text, base style and styled spans."""
    return tuple((cell.plain, str(cell.style), tuple(cell.spans)) for cell in cells)


def _group_of(check_id: str, results: dict[str, CheckResult]) -> Group:
    result = results.get(check_id)
    return result.group if result else catalogue().check(check_id).group


def summary_text(result: CheckResult | None, check_id: str | None) -> Text:
    """The two-line summary under a table: title, status and the one-line result."""
    if check_id is None:
        return Text("")
    if result is None:
        return plain(f"{catalogue().check(check_id).title}: not known yet.", style="italic")
    text = badge(result.status.value) + plain(f"  {result.title}: ", style="bold")
    text.append_text(tenant(result.summary, limit=400))
    text.append_text(plain("   (Enter: evidence and what to do)", style="dim"))
    return text


def detail_text(result: CheckResult) -> Text:
    """Everything about one result: summary, evidence, remediation, source and note."""
    text = badge(result.status.value) + plain(f"  severity: {result.severity.value}\n", style="dim")
    text.append_text(tenant(result.summary, limit=1000))
    if result.evidence:
        text.append_text(plain("\n\nEvidence\n", style="bold"))
        for key, value in result.evidence.items():
            text.append_text(plain(f"  {key}: ") + tenant(_evidence_value(value), limit=600) + plain("\n"))
    remedy = result.remediation
    if remedy.action or remedy.where or remedy.link:
        text.append_text(plain("\nWhat to do\n", style="bold"))
        if remedy.action:
            text.append_text(plain("  ") + tenant(remedy.action, limit=600) + plain("\n"))
        if remedy.where:
            text.append_text(plain("  Where: ") + tenant(remedy.where, limit=300) + plain("\n"))
        if remedy.link:
            text.append_text(plain("  Link: ") + tenant(remedy.link, style="underline", limit=300)
                             + plain("  (o opens it)\n", style="dim"))
    if result.source.document:
        text.append_text(plain("\nSource: ", style="bold") + tenant(result.source.document, limit=300)
                         + plain(f", ms.date {result.source.ms_date}"))
    if result.note:
        text.append_text(plain("\nNote: ", style="bold") + tenant(result.note, limit=800))
    return text


def _evidence_value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_evidence_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_evidence_value(v) for v in value) or "none"
    return str(value)


class CheckDetailDialog(ModalScreen[None]):
    """One check's evidence, what to do, and its source; o opens the remediation link."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="detail.close"),
        Binding("o", "open_link", "Open link", id="detail.open"),
    ]
    AUTO_FOCUS = "#detail-body"

    def __init__(self, result: CheckResult) -> None:
        super().__init__(classes="dialog detail-dialog")
        self.result = result

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(plain(f"{self.result.title} ({self.result.id})"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body", id="detail-body"):
                yield Static(detail_text(self.result), id="detail-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="detail-close", compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_link":
            return bool(self.result.remediation.link)
        return True

    @on(Button.Pressed, "#detail-close")
    def action_close(self) -> None:
        self.dismiss(None)

    def action_open_link(self) -> None:
        if self.result.remediation.link:
            self.app.open_url(self.result.remediation.link)
