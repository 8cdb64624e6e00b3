"""The wizard's previous runs: each session keeps the JSON report of its latest finished check run in
``STATE_DIR/runs/<tenant>/``, so the next session's Review can say what changed since (``dex_tui.drift``).

One file per session (``<UTC stamp>-<pid>-<service>.json``, replaced at each finished run), at most
:data:`KEEP` per tenant (the oldest are removed), each ``0600`` in ``0700`` folders like the progress
files. The files are read back as the hostile files they may be: refused when they are links, not
regular files or writable by another user (``localfiles.read_private``), size-capped, and validated
as reports (``drift.parse_previous_bytes``); one that fails is passed over, never trusted.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dex_tui.drift import MAX_PREVIOUS_BYTES, PreviousReport, PreviousReportError, parse_previous_bytes
from dex_tui.localfiles import private_folder, read_private

KEEP = 10  # reports kept per tenant: enough to compare with the last few sessions, a few hundred KB at most
_NAME = re.compile(r"^\d{8}T\d{6}\d{6}Z-\d+-[a-z]+\.json$")


class RunStore:
    """The kept reports of one tenant (``key``: ``progress.tenant_key``); this session writes one."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self.state_dir = state_dir
        self.key = key
        self._stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.written: Path | None = None  # this session's file, once written

    @property
    def folder(self) -> Path:
        return self.state_dir / "runs" / self.key

    def _files(self) -> list[Path]:
        """The kept report files, newest first (by name: the names begin with when the session began)."""
        try:
            names = [entry.name for entry in os.scandir(self.folder) if _NAME.match(entry.name)]
        except OSError:
            return []
        return [self.folder / name for name in sorted(names, reverse=True)]

    def save(self, report: Mapping[str, Any]) -> Path:
        """Keep ``report`` as this session's run (replacing its earlier one), then remove all but the
        newest :data:`KEEP`. Raises OSError when it cannot be written (the caller says so)."""
        from dex_tui.progress import atomic_write

        private_folder(self.state_dir, "runs")
        private_folder(self.state_dir / "runs", self.key)
        path = self.folder / f"{self._stamp}-{os.getpid()}-{report['service']}.json"
        if self.written is not None and self.written != path:
            self._remove(self.written)
        atomic_write(path, json.dumps(report, indent=2, sort_keys=True) + "\n")
        self.written = path
        for old in self._files()[KEEP:]:
            self._remove(old)
        return path

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def previous(self, tenant_id: str, service: str) -> PreviousReport | None:
        """The newest kept report of ``tenant_id`` and ``service`` written by another session, or None."""
        wanted = (tenant_id or "").strip().lower()
        if not wanted:
            return None
        for path in self._files():
            if path == self.written or self._stamp in path.name:
                continue
            try:
                data = read_private(path, MAX_PREVIOUS_BYTES)
                if data is None:
                    continue
                found = parse_previous_bytes(data, source=f"the run of {path.name[:8]}")
            except (OSError, PreviousReportError):
                continue
            if found.tenant_id == wanted and found.service == service:
                return found
        return None
