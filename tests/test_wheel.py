"""A non-editable install from the wheel, run from another directory, finds every asset."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_finds_assets(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheel = next(dist.glob("dex_tui-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, text=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    version = subprocess.run([str(env_dir / "bin" / "dex-tui"), "--version"], cwd=elsewhere,
                             capture_output=True, text=True, env=clean_env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("dex-tui ")
    probe = (
        "import dex_tui.assets as a, pathlib, sys, importlib.util;"
        "root = a.assets_dir();"
        "assert 'site-packages' in str(root), root;"
        "from dex_tui.clouds import get_cloud; assert get_cloud('gcc').hunting;"
        "spec = importlib.util.find_spec('screens');"
        "assert spec is not None, 'screens package missing';"
        "tcss = list(pathlib.Path(spec.origin).parent.glob('*.tcss'));"
        "print(root, len(list(root.rglob('*'))), len(tcss))"
    )
    result = subprocess.run([str(python), "-c", probe], cwd=elsewhere, capture_output=True, text=True,
                            env=clean_env)
    assert result.returncode == 0, result.stderr
    assets, count, stylesheets = result.stdout.split()
    shipped = [p for p in (ROOT / "assets").rglob("*") if p.is_file()]
    assert int(count) >= len(shipped)
    assert int(stylesheets) == len(list((ROOT / "screens").glob("*.tcss")))
