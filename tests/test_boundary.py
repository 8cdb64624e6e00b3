"""The headless core never imports Textual or the screens package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import importlib, pkgutil, sys
import dex_tui
names = [m.name for m in pkgutil.walk_packages(dex_tui.__path__, "dex_tui.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")
             or m == "screens" or m.startswith("screens."))
print(len(names), "modules;", "UI modules loaded:" if bad else "clean", *bad[:5])
sys.exit(1 if bad else 0)
"""


def test_core_modules_do_not_import_the_ui() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean" in result.stdout


def test_version_does_not_import_textual() -> None:
    probe = ("import sys; from dex_tui.cli import run; code = run(['--version']); "
             "sys.exit(3 if any(m.split('.')[0] in ('textual', 'screens') for m in sys.modules) else code)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_probe_detects_a_violation(tmp_path: Path) -> None:
    """The probe itself fails when a core module imports Textual (so the test above can fail)."""
    probe = PROBE.replace("import dex_tui\n", "import dex_tui\nimport textual\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1


@pytest.mark.parametrize(("fmt", "view"), [("json", None), ("text", "dex_tui.report_text"),
                                           ("markdown", "dex_tui.report_markdown"), ("html", "dex_tui.report_html")])
def test_a_check_loads_only_what_it_needs(fmt: str, view: str | None, tmp_path: Path) -> None:
    """Issue 18: only the report format asked for is imported, no parser for a shipped file (they come
    from the asset cache once parsed), no platformdirs, no cryptography without a certificate."""
    probe = (f"import sys; from dex_tui.cli import run; run(['--demo', 'check', '--format', {fmt!r}, '--output', "
             f"{str(tmp_path / 'r')!r}]); print(' '.join(sorted(sys.modules)))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state")}
    for _ in range(2):  # the first run parses the shipped files and keeps them in the cache
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                                timeout=120)
    loaded = set(result.stdout.split())
    views = {"dex_tui.report_text", "dex_tui.report_markdown", "dex_tui.report_html"}
    assert "dex_tui.report" in loaded, result.stderr
    assert loaded & views == ({view} if view else set())
    unwanted = {"platformdirs", "cryptography", "tomllib", "textual", "screens"} & {m.split(".")[0] for m in loaded}
    assert not unwanted
