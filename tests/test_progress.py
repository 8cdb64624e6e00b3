"""Per-tenant progress: round trip, atomic 0600 writes, bad files set aside, never tokens."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dex_tui.answers import Answers, Confirmation
from dex_tui.progress import PROGRESS_VERSION, Progress, ProgressStore, atomic_write, tenant_key


def _store(state_dir: Path, key: str = "contoso.onmicrosoft.com") -> ProgressStore:
    return ProgressStore(state_dir, key, clock=lambda: "2026-11-24T10:00:00Z")


def _answers() -> Answers:
    return Answers(service="xdr", confirmations={"terms": Confirmation("admin@contoso.com", "2026-11-24T09:00:00Z")}).with_role(
        "security_operator", False)


def test_tenant_key_is_safe_and_separates_demo() -> None:
    assert tenant_key("Contoso.OnMicrosoft.com") == "contoso.onmicrosoft.com"
    assert tenant_key(None) == "organizations"
    assert tenant_key("../../etc/passwd") == "etc_passwd"
    assert tenant_key("contoso.com", demo="ready") == "demo-ready"
    assert "/" not in tenant_key("a/b\\c")


def test_round_trip_keeps_step_answers_and_completed(state_dir: Path) -> None:
    store = _store(state_dir)
    saved = store.save(Progress(step="permissions", answers=_answers(), completed=("welcome", "signin"),
                                cloud="commercial", tenant_id="11111111-2222-3333-4444-555555555555"))
    assert saved.saved_at == "2026-11-24T10:00:00Z"
    loaded = store.load()
    assert loaded.notice is None
    assert loaded.progress == saved
    assert loaded.progress.answers.roles["security_operator"] is False


def test_file_is_private_and_written_atomically(state_dir: Path) -> None:
    store = _store(state_dir)
    store.save(Progress(step="terms"))
    mode = stat.S_IMODE(store.path.stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == [store.path.name]  # no temp files left
    data = json.loads(store.path.read_text())
    assert data["version"] == PROGRESS_VERSION
    assert set(data) == {"version", "tenant", "tenant_id", "cloud", "step", "completed", "answers", "saved_at"}
    assert not any(word in store.path.read_text().lower() for word in ("token", "device_code", "secret"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "p.json"
    target.write_text("old")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dex_tui.progress.os.replace", failing_replace)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # the temporary file is gone


def test_missing_file_is_a_clean_start(state_dir: Path) -> None:
    result = _store(state_dir).load()
    assert result.progress is None and result.notice is None


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting"),
    ('{"version": 99, "step": "terms"}', "format version 99"),
    ('{"version": 1, "step": "nowhere"}', "unknown step"),
    ('{"version": 1, "step": "terms", "access_token": "x"}', "unknown field"),
    ('{"version": 1, "step": "terms", "answers": {"service": "xdr2"}}', "service must be one of"),
    ('[1, 2]', "not a JSON object"),
])
def test_bad_file_is_set_aside_with_a_notice(state_dir: Path, content: str, reason: str) -> None:
    store = _store(state_dir)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content)
    result = store.load()
    assert result.progress is None
    assert reason in result.notice
    assert "moved to" in result.notice and "starting over" in result.notice
    assert not store.path.exists()
    aside = list(store.path.parent.glob("*.set-aside-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
    assert _store(state_dir).load().notice is None  # the next start is clean


def test_clear_removes_the_file(state_dir: Path) -> None:
    store = _store(state_dir)
    assert store.clear() is False
    store.save(Progress(step="review"))
    assert store.clear() is True
    assert store.load().progress is None


def test_tenants_do_not_share_progress(state_dir: Path) -> None:
    _store(state_dir, "contoso.com").save(Progress(step="review"))
    assert _store(state_dir, "fabrikam.com").load().progress is None
