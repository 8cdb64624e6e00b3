"""The command line: version, help, global options, precedence of settings, bad values -> exit 4."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dex_tui import __version__
from dex_tui.cli import run
from dex_tui.errors import UsageError
from dex_tui.settings import DEFAULT_CLIENT_ID, resolve_settings

GUID = "11111111-2222-3333-4444-555555555555"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dex-tui {__version__}"


def test_python_dash_m_works() -> None:
    out = subprocess.run([sys.executable, "-m", "dex_tui", "--version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"dex-tui {__version__}"


def test_help_lists_every_global_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--tenant", "--client-id", "--cloud", "--login-url", "--graph-url", "--mde-url",
                   "--ca-bundle", "--token-cache", "--config", "--demo", "--version"):
        assert option in text


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--cloud", "mars", "--version"], "--cloud: 'mars' is not one of"),
        (["--tenant", "not a tenant", "--version"], "--tenant: 'not a tenant' is neither"),
        (["--login-url", "http://login.example.com", "--version"], "--login-url: 'http://login.example.com' is not an https"),
        (["--graph-url", "ftp://x", "--version"], "--graph-url"),
        (["--mde-url", "https://", "--version"], "--mde-url"),
        (["--ca-bundle", "/no/such/ca.pem", "--version"], "--ca-bundle: the CA file"),
        (["--token-cache", "disk", "--version"], "--token-cache: 'disk' is not one of"),
        (["--client-id", "abc", "--version"], "--client-id"),
        (["--demo", "Not_A_Scenario!", "--version"], "--demo"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_values_exit_4_with_one_clear_line(argv: list[str], fragment: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert fragment in lines[0]
    assert "Traceback" not in captured.err


def test_bad_value_exits_4_in_a_real_process() -> None:
    result = subprocess.run([sys.executable, "-m", "dex_tui", "--cloud", "mars", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 4
    assert "--cloud" in result.stderr and "Traceback" not in result.stderr


def test_ca_bundle_without_certificate_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    assert run(["--ca-bundle", str(bogus), "--version"]) == 4
    assert "no PEM certificate" in capsys.readouterr().err


def test_precedence_cli_over_env_over_config_over_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('cloud = "gcc"\ntenant = "contoso.onmicrosoft.com"\ntoken_cache = "memory"\n')
    env = {"DEX_TUI_CONFIG": str(config), "DEX_TUI_CLOUD": "gcchigh"}
    settings = resolve_settings({"cloud": "dod"}, env)
    assert settings.cloud == "dod"
    settings = resolve_settings({}, env)
    assert settings.cloud == "gcchigh"
    assert settings.tenant == "contoso.onmicrosoft.com"
    assert settings.token_cache == "memory"
    assert settings.client_id == DEFAULT_CLIENT_ID
    assert settings.sources["cloud"] == "environment variable DEX_TUI_CLOUD"


def test_default_config_file_in_platform_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "dex-tui").mkdir()
    (tmp_path / "dex-tui" / "config.toml").write_text(f'tenant = "{GUID}"\n')
    settings = resolve_settings({}, {})
    assert settings.tenant == GUID
    assert settings.config_file == tmp_path / "dex-tui" / "config.toml"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("cloud = ", "is not valid TOML"),
        ('colour = "blue"\n', "unknown setting 'colour'"),
        ("cloud = 3\n", "cloud must be a string"),
        ('cloud = "saturn"\n', "'saturn' is not one of"),
    ],
)
def test_malformed_config_names_the_file(tmp_path: Path, content: str, fragment: str) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(content)
    with pytest.raises(UsageError) as info:
        resolve_settings({"config": str(config)}, {})
    assert str(config) in info.value.one_line()
    assert fragment in info.value.one_line()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve_settings({"config": str(tmp_path / "nope.toml")}, {})


def test_tenant_guid_and_domain_accepted() -> None:
    assert resolve_settings({"tenant": GUID.upper()}, {}).tenant == GUID
    assert resolve_settings({"tenant": "contoso.com"}, {}).tenant == "contoso.com"


def test_urls_override_cloud_table() -> None:
    settings = resolve_settings({"cloud": "gcchigh", "graph_url": "https://graph.example.test/"}, {})
    endpoints = settings.endpoints()
    assert endpoints.graph_url == "https://graph.example.test"
    assert endpoints.login_url == "https://login.microsoftonline.us"
    assert endpoints.mde_url == "https://api-gov.securitycenter.microsoft.us"


def test_demo_uses_reserved_hosts() -> None:
    endpoints = resolve_settings({"demo": "ready"}, {}).endpoints()
    assert endpoints.login_url == "https://login.demo.test"
    assert endpoints.graph_url == "https://graph.demo.test"
    assert endpoints.mde_url == "https://mde.demo.test"
