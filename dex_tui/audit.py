"""The audit trail: one JSON object per line recording the operator's decisions, with who and when.

Recorded: terms accepted, each optional role granted or skipped (a skip carries its
acknowledgement, with its reason and expiry), each check acknowledged (reason, expiry) or its
acknowledgement withdrawn, the licence and access confirmations, going on past failed or unknown
blockers, reports exported, progress restarted.
The file is append-only, mode 0600, one per tenant under ``STATE_DIR/audit/`` (0700); it never holds
a token. Values are JSON-escaped, so a tenant string cannot smuggle a terminal escape into ``cat``.

What it withstands (``dex_tui.localfiles``): a symbolic link planted at its path is refused, never
followed; a trail that another user could have written (theirs, or writable by group or others) is
moved aside and a new one begun, with a notice; a folder found open to others is tightened to 0700.
A record is appended whole or not at all: on a full disk the file is cut back to where it was and
:class:`AuditWriteError` says the decision was not recorded. A reader skips a torn record (JSON cut
short, as a crash mid-write leaves) and says so; any other damage is an error naming the line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dex_tui import TOOL_NAME, __version__
from dex_tui.answers import utc_now_iso
from dex_tui.errors import DexError, UsageError
from dex_tui.flow import Flow, default_flow
from dex_tui.localfiles import UnsafePath, append_whole, open_private, private_folder, read_private
from dex_tui.records import dataclass

AUDIT_VERSION = 1
MAX_TRAIL_READ = 64 * 1024 * 1024  # about 200,000 decisions; a trail is a few KB
# The events every flow may record; each step that confirms something adds its own (``confirms.event``
# in flow.toml: terms_accepted, license_confirmed, access_confirmed in the shipped flow).
SESSION_EVENTS = ("role_granted", "role_skipped", "check_acknowledged", "acknowledgement_withdrawn", "report_exported",
                  "progress_restarted", "went_past_blockers")


def events_for(flow: Flow) -> frozenset[str]:
    """The audit events a wizard over ``flow`` may record."""
    return frozenset(SESSION_EVENTS) | {step.confirms.event for step in flow.steps if step.confirms is not None}


EVENTS = events_for(default_flow())


def audit_path(state_dir: Path, key: str) -> Path:
    """Where the audit trail of the tenant with file-name ``key`` lives (see progress.tenant_key)."""
    return state_dir / "audit" / f"{key}.jsonl"


class AuditWriteError(DexError):
    """A decision could not be recorded in the audit trail; the trail is left as it was before."""

    default_title = "Not recorded in the audit trail"


@dataclass(frozen=True)
class TrailContents:
    """What a trail holds: the records, oldest first, and what the reader had to skip (torn records)."""

    records: list[dict[str, Any]]
    notices: list[str] = field(default_factory=list)


class AuditTrail:
    """Appends decision records to one JSON-lines file.

    Notices about the trail itself (a folder tightened, a suspicious trail moved aside) collect in
    :attr:`notices` for the caller to show; :meth:`pop_notices` takes them.
    """

    def __init__(self, path: Path, clock: Callable[[], str] = utc_now_iso,
                 events: frozenset[str] = EVENTS) -> None:
        """``events``: the events this trail accepts (:func:`events_for` the wizard's flow)."""
        self.path = path
        self._clock = clock
        self.events = events
        self.notices: list[str] = []

    def pop_notices(self) -> list[str]:
        taken, self.notices = self.notices, []
        return taken

    def record(self, event: str, *, by: str, tenant_id: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one record and return it; ``details`` must be JSON-serialisable plain data.

        Raises :class:`AuditWriteError` when the record could not be written whole (the trail is then
        unchanged) or the trail's path was refused.
        """
        if event not in self.events:
            raise ValueError(f"unknown audit event {event!r}")
        if not by:
            raise ValueError("an audit record needs who acted ('by')")
        entry: dict[str, Any] = {"v": AUDIT_VERSION, "at": self._clock(), "event": event, "by": by,
                                 "tenant_id": tenant_id, "tool": f"{TOOL_NAME} {__version__}"}
        entry.update(details)
        line = (json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
        try:
            fd = self._open_for_append()
        except OSError as exc:
            raise self._failed(event, exc, torn=False) from None
        try:
            if _ends_torn(fd):
                line = b"\n" + line  # the torn record stays on its own line; this one starts clean
            append_whole(fd, line)
        except OSError as exc:
            raise self._failed(event, exc, torn=bool(getattr(exc, "torn", False))) from None
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first (see :meth:`read_all` for what was skipped)."""
        return self.read_all().records

    def read_all(self) -> TrailContents:
        """Every record, oldest first, and a notice for each torn record skipped. A line that is not
        JSON for another reason is a UsageError naming the file and line; so is a refused trail."""
        try:
            data = read_private(self.path, MAX_TRAIL_READ)
        except OSError as exc:
            raise UsageError(f"audit trail {str(self.path)!r} cannot be read: {exc.strerror or exc}.") from None
        if data is None:
            return TrailContents([])
        records: list[dict[str, Any]] = []
        notices: list[str] = []
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if not _cut_short(line, exc):
                    raise UsageError(f"audit trail {str(self.path)!r} line {number} is not JSON ({exc.msg}).") from exc
                notices.append(f"Audit trail {self.path} line {number} is a record cut short when it was "
                               "written (a full disk or a crash); it is skipped.")
                continue
            records.append(record)
        return TrailContents(records, notices)

    def _open_for_append(self) -> int:
        _, notice = private_folder(self.path.parent.parent, self.path.parent.name)
        if notice:
            self.notices.append(notice)
        try:
            return open_private(self.path, os.O_RDWR | os.O_APPEND, create=True)
        except UnsafePath as refused:
            if refused.reason == "it is a symbolic link":
                raise
            aside = self._set_aside()
            self.notices.append(f"The audit trail {self.path} was moved to {aside} because {refused.reason}, so "
                                "its records cannot be trusted; a new trail was begun.")
            return open_private(self.path, os.O_RDWR | os.O_APPEND, create=True)

    def _set_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.set-aside-{stamp}")
        os.replace(self.path, aside)
        return aside

    def _failed(self, event: str, exc: OSError, *, torn: bool) -> AuditWriteError:
        why = exc.strerror or str(exc) or type(exc).__name__
        state = ("a part of it may remain as a torn last line, which readers skip" if torn
                 else "the trail is unchanged")
        if isinstance(exc, UnsafePath):
            next_step = f"Look at {exc.path}: if you did not put it there, remove it; later decisions are then recorded."
        else:
            next_step = "Free some disk space (or fix the folder); later decisions are then recorded."
        return AuditWriteError(
            f"the decision '{event}' could not be written to the audit trail {self.path} ({why}); {state}. "
            "The decision itself was kept.", next_step=next_step)


def _ends_torn(fd: int) -> bool:
    """Whether the trail on ``fd`` ends without a newline (a record cut short by a crash)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    return os.pread(fd, 1, size - 1) != b"\n" if hasattr(os, "pread") else False


def _cut_short(line: str, exc: json.JSONDecodeError) -> bool:
    """Whether ``line`` is the start of a record whose text ran out (a torn write), rather than damage:
    a JSON object left open where what follows the parser's complaint can only begin a value."""
    text = line.rstrip()
    if not (text == "{" or text.startswith('{"')):
        return False
    rest = text[exc.pos:]
    if exc.msg.startswith("Unterminated string"):
        return True
    if exc.msg.startswith("Invalid \\uXXXX escape"):
        return re.fullmatch(r"\\?u[0-9a-fA-F]{0,4}", rest) is not None
    if exc.msg == "Expecting value":
        return rest == "-" or any(word.startswith(rest) for word in ("true", "false", "null"))
    if exc.msg == "Expecting ',' delimiter":
        return re.fullmatch(r"([.eE][-+]?)?", rest) is not None
    return exc.msg in ("Expecting ':' delimiter", "Expecting property name enclosed in double quotes") and not rest
