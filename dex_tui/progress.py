"""Per-tenant wizard progress (current step, completed steps, answers) saved as versioned JSON.

One file per tenant under ``STATE_DIR/progress/``, written atomically with mode 0600. It holds the
operator's decisions and where they were, never a token or a device code. A file that cannot be
read, or was written by another format version, is moved aside (``*.set-aside-<time>``) with a
notice and the wizard starts clean; it is never silently overwritten.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dex_tui.answers import Answers, utc_now_iso
from dex_tui.clouds import CLOUD_NAMES
from dex_tui.errors import DexError, UsageError
from dex_tui.flow import step_ids

PROGRESS_VERSION = 1
_FIELDS = {"version", "tenant", "tenant_id", "cloud", "step", "completed", "answers", "saved_at"}
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def tenant_key(tenant: str | None, demo: str | None = None) -> str:
    """The file-name key of a tenant: the ``--tenant`` value (or ``organizations``), lowercased and
    reduced to safe characters; ``demo-<scenario>`` in demo mode, so demos never touch real progress."""
    raw = f"demo-{demo}" if demo is not None else (tenant or "organizations")
    key = _UNSAFE.sub("_", raw.strip().lower()).strip("._") or "organizations"
    return key[:100]


@dataclass(frozen=True)
class Progress:
    """What is saved: the step reached, completed steps, the answers, and the tenant it belongs to."""

    step: str
    answers: Answers = field(default_factory=Answers)
    completed: tuple[str, ...] = ()
    cloud: str | None = None
    tenant_id: str | None = None
    saved_at: str = ""

    def to_dict(self, tenant: str) -> dict[str, Any]:
        return {
            "version": PROGRESS_VERSION,
            "tenant": tenant,
            "tenant_id": self.tenant_id,
            "cloud": self.cloud,
            "step": self.step,
            "completed": list(self.completed),
            "answers": self.answers.to_dict(),
            "saved_at": self.saved_at,
        }


@dataclass(frozen=True)
class LoadResult:
    """The saved progress (None for a clean start) and a notice for the operator, if any."""

    progress: Progress | None
    notice: str | None = None


class ProgressStore:
    """Reads and writes one tenant's progress file."""

    def __init__(self, state_dir: Path, key: str, clock: Callable[[], str] = utc_now_iso) -> None:
        self.state_dir = state_dir
        self.key = key
        self._clock = clock

    @property
    def path(self) -> Path:
        return self.state_dir / "progress" / f"{self.key}.json"

    def load(self) -> LoadResult:
        """The saved progress, or a clean start (with a notice when a bad file was set aside)."""
        path = self.path
        if not path.exists():
            return LoadResult(None)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return LoadResult(self._parse(data))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, DexError, ValueError) as exc:
            reason = exc.explanation if isinstance(exc, DexError) else str(exc) or type(exc).__name__
            return LoadResult(None, self._set_aside(reason))

    def save(self, progress: Progress) -> Progress:
        """Write ``progress`` atomically (0600); returns it with ``saved_at`` filled in."""
        saved = Progress(step=progress.step, answers=progress.answers, completed=progress.completed,
                         cloud=progress.cloud, tenant_id=progress.tenant_id, saved_at=self._clock())
        text = json.dumps(saved.to_dict(self.key), indent=2, sort_keys=True) + "\n"
        atomic_write(self.path, text)
        return saved

    def clear(self) -> bool:
        """Forget the saved progress (``--restart``); True when a file was removed."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _parse(self, data: Any) -> Progress:
        where = f"progress file {str(self.path)!r}"
        if not isinstance(data, dict):
            raise UsageError(f"{where}: not a JSON object.")
        version = data.get("version")
        if version != PROGRESS_VERSION:
            raise UsageError(f"{where}: format version {version!r}, this dex-tui reads version "
                             f"{PROGRESS_VERSION}.")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise UsageError(f"{where}: unknown field {unknown[0]!r}.")
        step = data.get("step")
        if step not in step_ids():
            raise UsageError(f"{where}: unknown step {step!r}.")
        completed = data.get("completed", [])
        if not isinstance(completed, list) or any(item not in step_ids() for item in completed):
            raise UsageError(f"{where}: 'completed' must list step ids.")
        cloud = data.get("cloud")
        if cloud is not None and cloud not in CLOUD_NAMES:
            raise UsageError(f"{where}: unknown cloud {cloud!r}.")
        tenant_id = data.get("tenant_id")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise UsageError(f"{where}: tenant_id must be a string.")
        answers = Answers.from_dict(data.get("answers", {}), where=f"{where}: answers")
        return Progress(step=step, answers=answers, completed=tuple(completed), cloud=cloud,
                        tenant_id=tenant_id, saved_at=str(data.get("saved_at", "")))

    def _set_aside(self, reason: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.set-aside-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return (f"The saved progress could not be read ({reason}) nor moved aside ({exc.strerror}); "
                    "starting over. Remove the file by hand: " + str(self.path))
        return f"The saved progress could not be used ({reason}). It was moved to {aside}; starting over."


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a 0600 temporary file in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
