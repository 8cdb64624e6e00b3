"""After an unclean exit of a tenant's wizard (a dropped SSH connection: SIGHUP; a kill), the next start
of that tenant's wizard says how to put the terminal back (issue 20 item 7); a clean exit leaves nothing."""

from __future__ import annotations

import gc
import signal
from pathlib import Path

import pytest

from dex_tui.settings import Settings
from dex_tui.unclean_exit import RESTORE_HINT, RunMarker
from screens.app import WizardApp, run_wizard


def test_the_marker_is_per_tenant_and_refuses_a_planted_link(tmp_path: Path) -> None:
    ready, fresh = RunMarker(tmp_path, "demo-ready"), RunMarker(tmp_path, "demo-fresh")
    assert not ready.left_behind()
    ready.write()
    assert ready.left_behind() and not fresh.left_behind()
    assert (tmp_path / "running").stat().st_mode & 0o777 == 0o700
    ready.remove()
    assert not ready.left_behind()
    ready.remove()  # twice is fine
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "running" / "demo-fresh.json").symlink_to(elsewhere)
    fresh.write()  # best effort: the link is refused, nothing is written through it
    assert not elsewhere.exists()


def test_an_unwritable_state_folder_costs_only_the_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    marker = RunMarker(blocker, "demo-ready")
    marker.write()
    assert not marker.left_behind()


def fake_runs(monkeypatch: pytest.MonkeyPatch, *codes: int | None) -> list[bool]:
    """``WizardApp.run`` ends with each of ``codes`` in turn (129: SIGHUP, the terminal hung up);
    returns whether the marker existed while each run was on."""
    left = list(codes)
    seen: list[bool] = []

    def run(self: WizardApp) -> int | None:
        seen.append(any((self.core.state_dir / "running").glob("*.json")))
        self.core.close()  # what unmounting does
        return left.pop(0)

    monkeypatch.setattr(WizardApp, "run", run)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # dex_tui.collector.release would freeze the test heap
    return seen


def test_a_hang_up_leaves_the_marker_and_the_next_start_prints_what_to_type(monkeypatch, tmp_path: Path,
                                                                          capsys) -> None:
    settings = Settings(demo="ready", state_dir=tmp_path / "state")
    seen = fake_runs(monkeypatch, 128 + signal.SIGHUP, 0, 0)
    assert run_wizard(settings, restart=False) == 129
    assert capsys.readouterr().err == ""
    assert run_wizard(settings, restart=False) == 0
    err = capsys.readouterr().err
    assert err == f"dex-tui: {RESTORE_HINT}\n"
    assert "reset" in err and "tput rmcup" in err
    assert run_wizard(settings, restart=False) == 0  # the clean exit removed the marker
    assert capsys.readouterr().err == ""
    assert seen == [True, True, True]


def test_another_tenants_unclean_exit_is_not_this_ones(monkeypatch, tmp_path: Path, capsys) -> None:
    fake_runs(monkeypatch, 129, 0)
    assert run_wizard(Settings(demo="ready", state_dir=tmp_path), restart=False) == 129
    assert run_wizard(Settings(demo="fresh", state_dir=tmp_path), restart=False) == 0
    assert capsys.readouterr().err == ""


def test_sigterm_and_ctrl_c_put_the_terminal_back(monkeypatch, tmp_path: Path, capsys) -> None:
    settings = Settings(demo="ready", state_dir=tmp_path)
    fake_runs(monkeypatch, 128 + signal.SIGTERM, 0)
    assert run_wizard(settings, restart=False) == 143
    assert run_wizard(settings, restart=False) == 0
    assert capsys.readouterr().err == ""

    def interrupted(self: WizardApp) -> None:
        self.core.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(WizardApp, "run", interrupted)
    assert run_wizard(settings, restart=False) == 130
    assert not list((tmp_path / "running").glob("*.json"))


def test_on_a_terminal_the_modes_are_put_back_before_the_hint(monkeypatch, tmp_path: Path) -> None:
    """The reconnected terminal may still be on the wizard's alternate screen: leave it first, or the hint
    would vanish with that screen when the next wizard exits."""
    import io

    from dex_tui.unclean_exit import TERMINAL_RESTORE

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    settings = Settings(demo="ready", state_dir=tmp_path)
    fake_runs(monkeypatch, 129, 0)
    assert run_wizard(settings, restart=False) == 129
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert run_wizard(settings, restart=False) == 0
    written = terminal.getvalue()
    assert written == f"{TERMINAL_RESTORE}dex-tui: {RESTORE_HINT}\n"
    assert "\x1b[?1049l" in TERMINAL_RESTORE and "\x1b[?1003l" in TERMINAL_RESTORE and "\x1b[?25h" in TERMINAL_RESTORE
