"""Test-wide isolation: UTC, no real keyring, no real config or state directories, no animation, no
desktop or SSH session of the test run's own."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before anything imports Textual or keyring (both read the environment at import time).
_SANDBOX = Path(tempfile.mkdtemp(prefix="dex-tui-tests-"))
os.environ["TZ"] = "UTC"
if hasattr(time, "tzset"):
    time.tzset()
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ["TEXTUAL_ANIMATIONS"] = "none"
os.environ["XDG_CONFIG_HOME"] = str(_SANDBOX / "config")
os.environ["XDG_STATE_HOME"] = str(_SANDBOX / "state")
os.environ["XDG_DATA_HOME"] = str(_SANDBOX / "data")
os.environ["XDG_CACHE_HOME"] = str(_SANDBOX / "cache")
for _name in list(os.environ):
    if _name.startswith("DEX_TUI_"):
        del os.environ[_name]
# The sign-in step shows what this terminal allows (a demo too): the test run's own desktop or SSH login
# must not change a picture or a test (tests that need one set it with monkeypatch).
for _name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT", "DISPLAY", "WAYLAND_DISPLAY"):
    os.environ.pop(_name, None)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keyring  # noqa: E402
import keyring.backend  # noqa: E402


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring; negative priority so auto-detection never picks it."""

    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring backend for one test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A private state directory for progress, audit trail and token cache files."""
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def no_login_session_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test run's own login session (an SSH login, a terminal's utmp record) never decides a test:
    the session part of the remote-session rule finds nothing unless a test fakes it
    (tests/test_desktop.py tests it on fake /proc and utmp data)."""
    import dex_tui.desktop

    monkeypatch.setattr(dex_tui.desktop, "session_evidence", lambda: "")
