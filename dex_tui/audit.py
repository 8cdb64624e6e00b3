"""The audit trail: one JSON object per line recording the operator's decisions, with who and when.

Recorded: terms accepted, each optional role granted or skipped (a skip carries its
acknowledgement), the licence and access confirmations, reports exported, progress restarted.
The file is append-only, mode 0600, one per tenant under ``STATE_DIR/audit/`` (0700); it never holds
a token. A file or directory left looser by an older version or a permissive umask is tightened to
owner-only whenever the trail is opened. Values are JSON-escaped, so a tenant string cannot smuggle a
terminal escape into ``cat``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dex_tui import TOOL_NAME, __version__
from dex_tui.answers import utc_now_iso
from dex_tui.errors import UsageError

AUDIT_VERSION = 1
EVENTS = (
    "terms_accepted",
    "role_granted",
    "role_skipped",
    "license_confirmed",
    "access_confirmed",
    "report_exported",
    "progress_restarted",
)


def audit_path(state_dir: Path, key: str) -> Path:
    """Where the audit trail of the tenant with file-name ``key`` lives (see progress.tenant_key)."""
    return state_dir / "audit" / f"{key}.jsonl"


class AuditTrail:
    """Appends decision records to one JSON-lines file."""

    def __init__(self, path: Path, clock: Callable[[], str] = utc_now_iso) -> None:
        self.path = path
        self._clock = clock

    def record(self, event: str, *, by: str, tenant_id: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one record and return it; ``details`` must be JSON-serialisable plain data."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if not by:
            raise ValueError("an audit record needs who acted ('by')")
        entry: dict[str, Any] = {"v": AUDIT_VERSION, "at": self._clock(), "event": event, "by": by,
                                 "tenant_id": tenant_id, "tool": f"{TOOL_NAME} {__version__}"}
        entry.update(details)
        line = json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _owner_only(self.path.parent, 0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _owner_only(fd, 0o600)
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first; a damaged line is a UsageError naming the file and line."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            _owner_only(fd, 0o600)
            text = handle.read()
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"audit trail {str(self.path)!r} line {number} is not JSON ({exc.msg}).") from exc
            records.append(record)
        return records


def _owner_only(target: int | Path, mode: int) -> None:
    """Tighten an open file (a descriptor) or a directory to ``mode`` when group or others have any
    access. POSIX only: elsewhere the permission bits mean nothing."""
    if os.name != "posix":
        return
    current = os.fstat(target) if isinstance(target, int) else os.stat(target)
    if stat.S_IMODE(current.st_mode) & 0o077:
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode)
