"""The audit trail: JSON lines, append-only, 0600, who and when, escapes neutralised."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dex_tui.audit import AuditTrail, audit_path
from dex_tui.errors import UsageError
from tests.test_secrets_support import umask


def _trail(state_dir: Path) -> AuditTrail:
    return AuditTrail(audit_path(state_dir, "demo-ready"), clock=lambda: "2026-11-24T10:00:00Z")


def test_records_append_with_who_and_when(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="admin@contoso.com", tenant_id="t-1")
    trail.record("role_skipped", by="admin@contoso.com", tenant_id="t-1", role="security_operator",
                 acknowledged=True, lost_actions=["Isolate device"])
    records = trail.read()
    assert [r["event"] for r in records] == ["terms_accepted", "role_skipped"]
    assert records[1]["by"] == "admin@contoso.com"
    assert records[1]["at"] == "2026-11-24T10:00:00Z"
    assert records[1]["lost_actions"] == ["Isolate device"]
    assert trail.path == state_dir / "audit" / "demo-ready.jsonl"
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600
    assert len(trail.path.read_text().splitlines()) == 2


def test_tenant_strings_cannot_inject_escapes(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("report_exported", by="evil\x1b]52;c;AAAA\x07@contoso.com", path="/tmp/r.json", format="json")
    raw = trail.path.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw
    assert json.loads(raw)["by"].startswith("evil\x1b")


def test_unknown_event_and_missing_actor_are_refused(state_dir: Path) -> None:
    trail = _trail(state_dir)
    with pytest.raises(ValueError):
        trail.record("terms_rejected", by="a")
    with pytest.raises(ValueError):
        trail.record("terms_accepted", by="")
    assert not trail.path.exists()


def test_damaged_line_is_named(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="a")
    with trail.path.open("a") as handle:
        handle.write("{oops\n")
    with pytest.raises(UsageError, match="line 2"):
        trail.read()


def test_a_looser_file_and_directory_are_tightened_when_written(state_dir: Path) -> None:
    """A trail left 0644 (an older version, or a user's umask) becomes owner-only at the next record."""
    trail = _trail(state_dir)
    trail.path.parent.mkdir(parents=True)
    trail.path.write_text('{"event": "terms_accepted", "by": "earlier"}\n')
    trail.path.chmod(0o644)
    trail.path.parent.chmod(0o755)
    trail.record("role_granted", by="admin@contoso.com", role="security_operator")
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.path.parent.stat().st_mode) == 0o700
    assert [r["by"] for r in trail.read()] == ["earlier", "admin@contoso.com"]  # appended, nothing lost


def test_a_readable_trail_is_tightened_when_read(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="a")
    trail.path.chmod(0o644)
    assert len(trail.read()) == 1
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600


def test_a_trail_others_could_write_is_refused_when_read(state_dir: Path) -> None:
    trail = _trail(state_dir)
    trail.record("terms_accepted", by="a")
    trail.path.chmod(0o666)
    with pytest.raises(UsageError, match=r"group or others may write to it \(mode 0666\)"):
        trail.read()


def test_a_new_trail_is_private_even_under_a_permissive_umask(state_dir: Path) -> None:
    with umask(0):
        trail = _trail(state_dir)
        trail.record("terms_accepted", by="a")
    assert stat.S_IMODE(trail.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trail.path.parent.stat().st_mode) == 0o700


def test_reading_a_missing_trail_gives_nothing(state_dir: Path) -> None:
    assert _trail(state_dir).read() == []
