"""Check results on screen: a grouped table whose rows fill in as results arrive, a one-check
summary under it, and a dialog with a check's evidence, remediation and source.

Every value that may come from the tenant is cleaned and shown as Text, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static
from textual.widgets.data_table import RowKey

from dex_tui.catalogue import ALL_CHECK_IDS, catalogue
from dex_tui.results import CheckResult, Group, Status
from screens.dialogs import FittedDialog
from screens.scrolling import ReadingScroll
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
PROBLEMS = (Status.FAIL, Status.UNKNOWN, Status.WARN)


@dataclass(frozen=True)
class LaterStep:
    """The step, still ahead, where the operator settles a check: its number and title."""

    number: int
    title: str


def is_problem(check_id: str, results: dict[str, CheckResult], later: dict[str, LaterStep]) -> bool:
    """A check that needs the operator's attention now: failed, unknown or warning, and not one a
    later step settles."""
    result = results.get(check_id)
    return result is not None and result.status in PROBLEMS and to_do_later(check_id, results, later) is None


def read_failed(result: CheckResult) -> bool:
    """Unknown because a read of the tenant failed (``checks.unknown_from``), not for lack of a setting."""
    return result.status is Status.UNKNOWN and "read" in result.evidence and "reason" in result.evidence


def to_do_later(check_id: str, results: dict[str, CheckResult], later: dict[str, LaterStep]) -> LaterStep | None:
    """The step ahead that settles ``check_id`` when it is not passing yet (None: nothing to do later).
    A check whose read failed is a problem now: the later step would not be able to see it either."""
    result = results.get(check_id)
    if check_id in later and result is not None and result.status != Status.PASS and not read_failed(result):
        return later[check_id]
    return None


def later_badge(step: LaterStep) -> Text:
    return Text(f"→ step {step.number}", style="bold cyan")


class ChecksTable(DataTable[Any]):
    """All checks of a service, grouped; rows not yet known show '… checking'. Titles and results wrap
    in their columns (a row is as tall as its longest cell), so nothing is cut.

    While results stream in, :meth:`show` changes only the cells whose text changed: rebuilding the
    whole table for every result would re-render every row and reset the scroll position each time.

    Until the operator moves the cursor, it follows the first problem (:func:`is_problem`), so what
    needs attention is selected and its summary shown under the table.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.results: dict[str, CheckResult] = {}
        self.check_ids: list[str] = []
        self.running = False
        self.later: dict[str, LaterStep] = {}
        self.reading: dict[str, int] = {}
        self._shown: dict[str, tuple[object, ...]] = {}  # row key -> what its cells show (see _look)
        self._shown_keys: list[str] = []
        self._shown_width: int | None = None
        self._placed_row: int | None = None  # where the table last put the cursor itself
        self._moved = False  # the operator moved the cursor: it stays on their check from then on

    def _add_columns(self) -> None:
        """Columns sized to the terminal: the title column grows on wide terminals, the result takes
        the rest (both wrap)."""
        width = self.size.width or 80
        title = 24 if width < 100 else 34
        self.add_column("Status", width=10, key="status")
        self.add_column("Check", width=title, key="check")
        self.add_column("Result", width=max(20, width - 10 - title - 8), key="summary")

    def on_resize(self) -> None:
        """The column widths follow the table's width: a new width lays the table out again."""
        self.show(self.check_ids, self.results, running=self.running, later=self.later, reading=self.reading)

    def show(self, check_ids: Iterable[str], results: dict[str, CheckResult], *, running: bool,
             later: dict[str, LaterStep] | None = None, reading: dict[str, int] | None = None) -> None:
        """Show these results (the cursor stays on the check the operator chose). ``later`` maps the ids
        of checks a later step settles to that step; until they pass they show "to do in step N".
        ``reading``: pages read so far for checks still waiting on a long, paged read."""
        later = later or {}
        self.reading = dict(reading or {})
        self.check_ids = list(check_ids)
        self.results = dict(results)
        self.running = running
        self.later = later
        width = self.size.width
        if not width:
            return  # not laid out yet: the rows are built once, when the table gets its size (on_resize)
        rows = self._rows()
        self._operator_moved()
        if [key for key, _ in rows] == self._shown_keys and width == self._shown_width:
            for key, cells in rows:
                look = _look(cells)
                if self._shown.get(key) != look:
                    for column, cell in zip(("status", "check", "summary"), cells, strict=True):
                        self.update_cell(key, column, cell)
                    self._shown[key] = look
                    # The row's height follows its new text: Textual measures auto-height rows only
                    # when they are new, so the row is measured again as if it were.
                    self._new_rows.add(RowKey(key))
                    self._require_update_dimensions = True
            self._follow_first_problem()
            return
        self._rebuild(rows, width)

    def _rows(self) -> list[tuple[str, Cells]]:
        """Every row (group titles included) in order: its key and its three cells."""
        infos = catalogue().all_checks or catalogue().checks
        results, later = self.results, self.later
        rows: list[tuple[str, Cells]] = []
        for group in (Group.REQUIRED, Group.COVERAGE, Group.INFORMATION):
            ids = [i for i in self.check_ids if group_of(i, results) == group]
            if not ids:
                continue
            rows.append((f"group:{group.value}", (Text(""), Text(GROUP_TITLES[group], style="bold underline"),
                                                  Text(""))))
            for check_id in ids:
                result = results.get(check_id)
                status = result.status.value if result else ("running" if self.running else Status.UNKNOWN.value)
                title = result.title if result else infos[check_id].title
                summary = tenant(result.summary, limit=300) if result else Text("")
                if result is None and self.running and self.reading.get(check_id):
                    pages = self.reading[check_id]
                    summary = plain(f"Reading… {pages} page{'s' if pages != 1 else ''} so far", style="italic")
                status_cell = badge(status)
                step = to_do_later(check_id, results, later)
                if step is not None:
                    status_cell = later_badge(step)
                    # What the step will settle is all this row needs to say; d shows the check's words.
                    summary = plain(f"To do in step {step.number}, {step.title}.", style="bold")
                rows.append((check_id, (status_cell, plain(title), summary)))
        return rows

    def _rebuild(self, rows: list[tuple[str, Cells]], width: int) -> None:
        selected = self.selected_id()
        self.clear(columns=True)
        self._add_columns()
        for key, cells in rows:
            self.add_row(*cells, key=key, height=None)
        self._shown = {key: _look(cells) for key, cells in rows}
        self._shown_keys = [key for key, _ in rows]
        self._shown_width = width
        self._placed_row = None  # the cleared table put its cursor on the first row
        if self._moved and selected in self.check_ids:
            self.move_cursor(row=self.get_row_index(selected))
            self._placed_row = self.cursor_row
        else:
            self._follow_first_problem()

    def _operator_moved(self) -> bool:
        """Whether the operator moved the cursor since the table last placed it (then it stays theirs)."""
        if self._placed_row is not None and self.cursor_row != self._placed_row:
            self._moved = True
        return self._moved

    def _follow_first_problem(self) -> None:
        """Put the cursor on the first problem (else the first check) unless the operator moved it."""
        if not self.row_count or self._operator_moved():
            return
        problems = [i for i in self._shown_keys if not i.startswith("group:") and is_problem(i, self.results, self.later)]
        target = self.get_row_index(problems[0]) if problems else 1
        if self.cursor_row != target:
            self.move_cursor(row=target)
        self._placed_row = target

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


def group_of(check_id: str, results: dict[str, CheckResult]) -> Group:
    result = results.get(check_id)
    return result.group if result else catalogue().check(check_id).group


def summary_text(result: CheckResult | None, check_id: str | None) -> Text:
    """The line under a table: the selected check and how to see its evidence (its result is in the row)."""
    if check_id is None:
        return Text("")
    if result is None:
        return plain(f"{catalogue().check(check_id).title}: not known yet.", style="italic")
    text = badge(result.status.value) + plain(f"  {result.title}", style="bold")
    text.append_text(plain("  ·  Enter or d: its evidence and what to do", style="dim"))
    return text


def detail_text(result: CheckResult) -> Text:
    """Everything about one result: summary, evidence, remediation, source and note."""
    text = badge(result.status.value) + plain(f"  severity: {result.severity.value}\n", style="dim")
    text.append_text(tenant(result.summary, limit=1000))
    if result.evidence:
        text.append_text(plain("\n\nEvidence\n", style="bold"))
        for line in evidence_lines(result.evidence, "  "):
            text.append_text(line + plain("\n"))
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


# Evidence keys whose words need more than the key itself (the others read well as words: see label).
EVIDENCE_WORDS = {
    "verifiable_from_graph": "Readable through Microsoft Graph",
    "members_only": "Only enabled members counted (not guests or disabled accounts)",
    "users_needing_p1": "Users who need Entra ID P1",
    "entra_p2": "Entra ID P2 licensed",
    "api_answer": "What the API answered",
    "hint_subscriptions": "Subscriptions that look like Defender Experts",
    "hint_unavailable": "Why the subscriptions could not be read",
    "lost_actions": "What the experts cannot do",
    "security_administrator_adds": "What Security administrator adds",
    "shortfall": "Users without a licence",
    "enabled_units": "Licence units enabled",
    "by_mode": "Devices by antivirus mode",
    "sku": "Product (SKU)",
    "endpoint": "Address read",
    "missing_permission": "Permission missing",
}
_ACRONYMS = {"mfa": "MFA", "api": "API", "id": "ID", "ca": "CA", "av": "AV", "mde": "MDE", "sku": "SKU",
             "gdap": "GDAP", "iot": "IoT", "url": "URL", "upn": "UPN", "p1": "P1", "p2": "P2", "xdr": "XDR",
             "mdr": "MDR", "mdo": "MDO", "mdi": "MDI", "mdca": "MDCA", "http": "HTTP"}


def evidence_label(key: str) -> str:
    """An evidence key in words: ``members_only`` -> "Members only (guests not counted)", ``tenant_id``
    -> "Tenant ID"."""
    if key in EVIDENCE_WORDS:
        return EVIDENCE_WORDS[key]
    words = [_ACRONYMS.get(word.lower(), word) for word in str(key).split("_") if word]
    if not words:
        return "Value"
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])[:80]


def evidence_word(value: object) -> str:
    """A single evidence value in words: yes/no, "not known", thousands separated, "none"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not known"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple) and not value:
        return "none"
    if isinstance(value, dict) and not value:
        return "none"
    return str(value)


def evidence_lines(evidence: object, indent: str = "", depth: int = 0) -> list[Text]:
    """Evidence as indented lines of words: a table becomes its labelled entries, a list of tables one
    bullet per entry, a list of values one line; every value is tenant text (cleaned, shortened)."""
    if not isinstance(evidence, dict):
        return [plain(indent) + tenant(evidence_word(evidence), limit=600)]
    lines: list[Text] = []
    for key, value in list(evidence.items())[:60]:
        label = plain(f"{indent}{evidence_label(key)}: ", style="bold" if depth == 0 else "")
        if isinstance(value, dict) and value and depth < 3:
            lines.append(label)
            lines.extend(evidence_lines(value, indent + "  ", depth + 1))
        elif isinstance(value, list | tuple) and value and any(isinstance(v, dict) for v in value) and depth < 3:
            lines.append(label)
            for item in list(value)[:30]:
                inner = evidence_lines(item, indent + "    ", depth + 1)
                if inner:
                    inner[0] = plain(f"{indent}  • ") + Text(inner[0].plain.lstrip(), spans=[])
                lines.extend(inner)
        elif isinstance(value, list | tuple) and value:
            lines.append(label + tenant(", ".join(evidence_word(v) for v in value), limit=600))
        else:
            lines.append(label + tenant(evidence_word(value), limit=600))
    return lines


class CheckDetailDialog(FittedDialog[None]):
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
            with ReadingScroll(classes="dialog-body", early_focus=True, id="detail-body"):
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
