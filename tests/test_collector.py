"""The garbage collector is held off only while dex-tui starts, and always given back."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from dex_tui import collector

ROOT = Path(__file__).resolve().parent.parent


def test_hold_pauses_and_release_freezes_and_resumes_once() -> None:
    assert gc.isenabled()
    try:
        collector.hold()
        assert not gc.isenabled()
        frozen = gc.get_freeze_count()
        collector.release()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
        collector.release()  # a second release changes nothing
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_release_without_hold_leaves_a_library_user_alone() -> None:
    gc.disable()
    try:
        collector.release()
        assert not gc.isenabled()  # dex-tui did not turn it off, so it does not turn it on
    finally:
        gc.enable()


def _after(argv: list[str], tmp_path: Path) -> str:
    script = f"""
import gc, sys
from dex_tui import collector
collector.hold()
import dex_tui.cli
import dex_tui.commands.check as check
seen = []
real = check.run
def run(settings, args):
    result = real(settings, args)
    seen.append(gc.isenabled())
    return result
check.run = run
code = dex_tui.cli.run({argv!r})
print(f"code={{code}} enabled_during={{seen}} enabled_after={{gc.isenabled()}}")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "s"),
                               "XDG_CACHE_HOME": str(tmp_path / "c"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
                               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_check_runs_with_the_collector_back_on(tmp_path: Path) -> None:
    line = _after(["--demo", "check", "--format", "json", "--output", str(tmp_path / "r.json")], tmp_path)
    assert line.startswith("code=") and line.endswith("enabled_during=[True] enabled_after=True")


def test_another_command_gets_the_collector_back_before_it_runs(tmp_path: Path) -> None:
    assert _after(["signout"], tmp_path).startswith("code=0 enabled_during=[] enabled_after=True")
