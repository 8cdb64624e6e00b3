"""Per-tenant wizard progress (current step, completed steps, answers) saved as versioned JSON.

One file per tenant under ``STATE_DIR/progress/``, written atomically with mode 0600. It holds the
operator's decisions and where they were, never a token or a device code. A file that cannot be
read, or was written by another format version, is moved aside (``*.set-aside-<time>``) with a
notice and the wizard starts clean; it is never silently overwritten. So is a file that another user
could have written (theirs, or writable by group or others), a link, or anything but a regular file
(``dex_tui.localfiles``); the folder is tightened to 0700 when found looser.

One wizard at a time per tenant: :meth:`ProgressStore.acquire` takes ``STATE_DIR/locks/<tenant>.lock``
(an OS lock, dropped when its process ends, so the lock of a process that died is taken over) and
raises :class:`TenantInUse`, naming the holder's PID, when another dex-tui has it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dex_tui.answers import Answers, utc_now_iso
from dex_tui.clouds import CLOUD_NAMES
from dex_tui.errors import DexError, UsageError
from dex_tui.flow import default_flow
from dex_tui.localfiles import (
    HeldLock,
    LockBusy,
    TooLarge,
    UnsafePath,
    private_folder,
    read_private,
    take_lock,
)
from dex_tui.records import dataclass

if TYPE_CHECKING:
    from dex_tui.flow import Flow

PROGRESS_VERSION = 1
MAX_PROGRESS_FILE = 1024 * 1024  # a progress file is about 1 KB
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


class TenantInUse(DexError):
    """Another dex-tui process has this tenant's progress open."""

    default_title = "This tenant is open in another dex-tui"

    def __init__(self, key: str, pid: int | None) -> None:
        holder = f"another dex-tui (PID {pid})" if pid else "another dex-tui"
        tenant = "your home tenant (no tenant chosen)" if key == "organizations" else f"the tenant '{key}'"
        super().__init__(f"{holder} has {tenant} open; two wizards on one tenant would overwrite "
                         "each other's progress.",
                         next_step="Finish or quit that one first, or choose another tenant.")
        self.key = key
        self.pid = pid


class ProgressStore:
    """Reads and writes one tenant's progress file, holding the tenant's lock while it does.

    :meth:`load`, :meth:`save` and :meth:`clear` take the lock first when it is not held yet (and
    raise :class:`TenantInUse` when another process has it); :meth:`release` gives it back. When the
    lock cannot even be created (an unwritable state directory) the store goes on without it: nothing
    can be saved there anyway, and saving says so.
    """

    def __init__(self, state_dir: Path, key: str, clock: Callable[[], str] = utc_now_iso,
                 flow: Flow | None = None) -> None:
        """``flow``: the edition whose step ids and confirmations a saved file may name (default: shipped)."""
        self.state_dir = state_dir
        self.key = key
        self.flow = flow or default_flow()
        self._clock = clock
        self._lock: HeldLock | None = None
        self._folder_notices: list[str] = []  # state folder found open to others, told at the next load

    @property
    def path(self) -> Path:
        return self.state_dir / "progress" / f"{self.key}.json"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "locks" / f"{self.key}.lock"

    @property
    def locked(self) -> bool:
        """Whether this store holds its tenant's lock."""
        return self._lock is not None and self._lock.held

    def acquire(self) -> None:
        """Take the tenant's lock (idempotent); :class:`TenantInUse` when another dex-tui holds it."""
        if self.locked:
            return
        try:
            _, notice = private_folder(self.state_dir, "locks")
            if notice:
                self._folder_notices.append(notice)
            self._lock = take_lock(self.lock_path)
        except LockBusy as busy:
            raise TenantInUse(self.key, busy.pid) from None
        except OSError:
            self._lock = None  # nothing can be written here; save() reports why

    def release(self) -> None:
        """Give the tenant's lock back (the wizard is ending)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def load(self) -> LoadResult:
        """The saved progress, or a clean start (with a notice when a bad file was set aside)."""
        self.acquire()
        notices, self._folder_notices = self._folder_notices, []
        try:
            _, folder_notice = private_folder(self.state_dir, "progress")
        except FileNotFoundError:
            return LoadResult(None)
        except OSError as exc:
            return LoadResult(None, f"The progress folder cannot be used ({exc.strerror or exc}); "
                                    "progress is not saved this run.")
        if folder_notice:
            notices.append(folder_notice)
        try:
            raw = read_private(self.path, MAX_PROGRESS_FILE)
            if raw is None:
                return LoadResult(None, " ".join(notices) or None)
            loaded = LoadResult(self._parse(json.loads(raw.decode("utf-8"))), " ".join(notices) or None)
        except UnsafePath as refused:
            notices.append(self._set_aside(refused.reason, refused=True))
            return LoadResult(None, " ".join(notices))
        except TooLarge as large:
            notices.append(self._set_aside(large.strerror or "too large"))
            return LoadResult(None, " ".join(notices))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, DexError, ValueError) as exc:
            reason = exc.explanation if isinstance(exc, DexError) else str(exc) or type(exc).__name__
            notices.append(self._set_aside(reason))
            return LoadResult(None, " ".join(notices))
        return loaded

    def save(self, progress: Progress) -> Progress:
        """Write ``progress`` atomically (0600); returns it with ``saved_at`` filled in."""
        self.acquire()
        saved = Progress(step=progress.step, answers=progress.answers, completed=progress.completed,
                         cloud=progress.cloud, tenant_id=progress.tenant_id, saved_at=self._clock())
        text = json.dumps(saved.to_dict(self.key), indent=2, sort_keys=True) + "\n"
        private_folder(self.state_dir, "progress")
        atomic_write(self.path, text)
        return saved

    def clear(self) -> bool:
        """Forget the saved progress (``--restart``); True when a file was removed."""
        self.acquire()
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
        step_ids = self.flow.ids()
        step = data.get("step")
        if step not in step_ids:
            raise UsageError(f"{where}: unknown step {step!r}.")
        completed = data.get("completed", [])
        if not isinstance(completed, list) or any(item not in step_ids for item in completed):
            raise UsageError(f"{where}: 'completed' must list step ids.")
        cloud = data.get("cloud")
        if cloud is not None and cloud not in CLOUD_NAMES:
            raise UsageError(f"{where}: unknown cloud {cloud!r}.")
        tenant_id = data.get("tenant_id")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise UsageError(f"{where}: tenant_id must be a string.")
        answers = Answers.from_dict(data.get("answers", {}), where=f"{where}: answers",
                                    confirmable=[s.id for s in self.flow.confirming_steps()])
        return Progress(step=step, answers=answers, completed=tuple(completed), cloud=cloud,
                        tenant_id=tenant_id, saved_at=str(data.get("saved_at", "")))

    def _set_aside(self, reason: str, *, refused: bool = False) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path.with_name(f"{self.path.name}.set-aside-{stamp}")
        why = (f"was not loaded because {reason}: another user could have written it" if refused
               else f"could not be used ({reason})")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return (f"The saved progress {why}, nor could it be moved aside ({exc.strerror}); "
                    "starting over. Remove the file by hand: " + str(self.path))
        return f"The saved progress {why}. It was moved to {aside}; starting over."


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
