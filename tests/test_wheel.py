"""A non-editable install from the wheel, into a fresh virtual environment without the test extra, run
from another directory: it finds every asset, declares its licence and dependencies, and its
documented commands work (``demo-server`` serving a real sign-in included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from tests.test_secrets_support import sigint_as_default

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Install:
    wheel: Path
    python: Path
    dex_tui: Path
    elsewhere: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.dex_tui), *args], cwd=self.elsewhere, capture_output=True, text=True,
                              env=self.env, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    tmp_path = tmp_path_factory.mktemp("wheel")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheel = next(dist.glob("dex_tui-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True,
                   text=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("DEX_TUI_")}
    env["DEX_TUI_STATE_DIR"] = str(tmp_path / "state")
    yield Install(wheel, python, env_dir / "bin" / "dex-tui", elsewhere, env)


def test_wheel_installs_and_finds_assets(install: Install) -> None:
    version = install.run("--version")
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
        "assert importlib.util.find_spec('trustme') is None, 'the test extra leaked into the install';"
        "print(root, len(list(root.rglob('*'))), len(tcss))"
    )
    result = subprocess.run([str(install.python), "-c", probe], cwd=install.elsewhere, capture_output=True,
                            text=True, env=install.env)
    assert result.returncode == 0, result.stderr
    assets, count, stylesheets = result.stdout.split()
    shipped = [p for p in (ROOT / "assets").rglob("*") if p.is_file()]
    assert int(count) >= len(shipped)
    assert int(stylesheets) == len(list((ROOT / "screens").glob("*.tcss")))


def test_wheel_metadata_declares_the_licence_and_what_the_code_imports(install: Install) -> None:
    import zipfile

    with zipfile.ZipFile(install.wheel) as wheel:
        names = wheel.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(metadata_name).decode("utf-8"))
        licence = next(n for n in names if n.endswith("/LICENSE") and ".dist-info/" in n)
        assert "MIT License" in wheel.read(licence).decode("utf-8")
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata.get_all("Classifier") and metadata.get_all("Project-URL")
    required = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
                for r in metadata.get_all("Requires-Dist") if "extra ==" not in r}
    assert {"textual", "rich", "msal", "requests", "urllib3", "certifi", "keyring", "cryptography",
            "platformdirs"} <= required


def test_documented_commands_work_from_a_plain_install(install: Install, tmp_path: Path) -> None:
    helped = install.run("--help")
    assert helped.returncode == 0 and "demo scenarios" in helped.stdout and "passive-av" in helped.stdout
    for command in ("signin", "signout", "check", "demo-server", "demo-record"):
        assert install.run(command, "--help").returncode == 0, command
    report = install.run("--demo", "fresh", "check", "--output", "-", "--format", "markdown")
    assert report.returncode == 2 and report.stdout.startswith("# "), report.stderr
    written = install.run("--demo", "ready", "check", "--output", str(tmp_path / "r.html"))
    assert written.returncode == 1 and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    wizard = install.run("--demo")
    assert wizard.returncode == 4 and "needs a terminal" in wizard.stderr


def test_demo_server_from_a_plain_install_serves_a_sign_in(install: Install) -> None:
    server = subprocess.Popen([str(install.dex_tui), "demo-server", "--scenario", "ready"], cwd=install.elsewhere,
                              env=install.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=sigint_as_default)
    try:
        assert server.stdout is not None
        banner: list[str] = []
        for line in server.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Serving until Ctrl+C"):
                break
        else:
            raise AssertionError(f"demo-server ended early: {server.stderr.read() if server.stderr else ''}")
        paste = next(line.split(maxsplit=1)[1] for line in banner if line.strip().startswith("dex-tui --tenant"))
        ca_file = Path(next(line.split(": ", 1)[1].strip() for line in banner if "CA file:" in line))
        assert ca_file.is_file()
        args = paste.split()
        assert args[-1] == "signin"
        signed = install.run(*args)
        assert signed.returncode == 0, signed.stderr
        assert "Signed in as Megan Bowen <admin@contoso.onmicrosoft.com> (device code)." in signed.stdout
        checked = install.run(*args[:-1], "--cloud", "commercial", "check", "--format", "json")
        assert checked.returncode == 1, checked.stderr
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 130
        assert not ca_file.exists(), "the demo CA is removed when the server stops"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
