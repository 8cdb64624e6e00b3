"""The command line: version, help, global options, precedence of settings, bad values -> exit 4."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dex_tui import __version__
from dex_tui.cli import run
from dex_tui.errors import UsageError
from dex_tui.settings import DEFAULT_CLIENT_ID, resolve_settings

GUID = "11111111-2222-3333-4444-555555555555"
ROOT = Path(__file__).resolve().parent.parent


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


# -- what each command loads (issue 15 item 4) --------------------------------------------------------

MODULE_PROBE = r"""
import json, sys
from dex_tui.cli import run
try:
    code = run(sys.argv[1:])
except SystemExit as done:  # --help
    code = done.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "screens")
                or m.startswith("dex_tui.commands."))
print("MODULES " + json.dumps(loaded), file=sys.stderr)
sys.exit(code)
"""


def _loaded_modules(*argv: str) -> tuple[int, list[str]]:
    result = subprocess.run([sys.executable, "-c", MODULE_PROBE, *argv], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES "))
    import json

    return result.returncode, json.loads(line[len("MODULES "):])


@pytest.mark.parametrize(("argv", "code", "command_modules"), [
    (["--version"], 0, []),
    (["--help"], 0, []),
    (["--demo", "fresh", "check", "--format", "json"], 2, ["dex_tui.commands.check"]),
    (["--demo", "check"], 1, ["dex_tui.commands.check"]),  # the default scenario, the text report
    (["check", "--help"], 0, ["dex_tui.commands.check"]),
    (["--demo", "signin"], 0, ["dex_tui.commands.signin"]),
    (["--demo", "check", "--version"], 0, ["dex_tui.commands.check"]),
    # The probe sees a command module that lives with the UI: it is loaded, Textual is not.
    (["demo-record", "--help"], 0, ["screens", "screens.record_command"]),
])
def test_a_command_loads_only_its_own_module_and_no_ui(argv: list[str], code: int,
                                                       command_modules: list[str]) -> None:
    returncode, loaded = _loaded_modules(*argv)
    assert returncode == code
    assert loaded == command_modules, f"{argv} loaded {loaded}"


# -- one rule for options (issue 13 item 7) -------------------------------------------------------------

@pytest.mark.parametrize(("argv", "fragment"), [
    (["--restart", "check"], "--restart only applies to the wizard"),
    (["check", "--restart"], "--restart only applies to the wizard"),
    (["--restart", "signin"], "--restart only applies to the wizard"),
    (["--tenant", "contoso.com", "signout"], "--tenant does not apply to 'dex-tui signout'"),
    (["signout", "--tenant", "contoso.com"], "--tenant does not apply to 'dex-tui signout'"),
    (["demo-server", "--login-url", "https://x.example"], "--login-url does not apply to 'dex-tui demo-server'"),
    (["--state-dir", "/tmp", "demo-record", "x", "-o", "y"], "--state-dir does not apply to 'dex-tui demo-record'"),
    (["--demo", "nosuchscenario", "--version"], "no demo scenario called 'nosuchscenario'"),
    (["--version", "--demo", "nosuchscenario"], "no demo scenario called 'nosuchscenario'"),
    (["check", "--format", "pdf", "--version"], "invalid choice: 'pdf'"),
    (["--approval", "auto"], "--approval only applies to the demo"),
    (["--demo", "--approval", "sometimes"], "argument --approval: invalid choice: 'sometimes'"),
    (["--demo", "check", "--approval", "auto"], "--approval before a command only applies to the demo wizard"),
    (["--approval", "auto", "demo-server"], "give demo-server's own --approval after the command"),
])
def test_an_option_is_checked_and_refused_the_same_way_wherever_it_is_written(
        argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert fragment in line, line


def test_version_prints_once_every_option_is_valid_before_or_after_the_command(
        capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--demo", "gcc", "--version"], ["--version", "check"], ["check", "--version"]):
        assert run(argv) == 0
        assert capsys.readouterr().out == f"dex-tui {__version__}\n"


def test_settings_from_the_environment_are_never_refused(monkeypatch: pytest.MonkeyPatch, memory_keyring,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DEX_TUI_TENANT", "contoso.onmicrosoft.com")
    monkeypatch.setenv("DEX_TUI_LOGIN_URL", "https://login.example.test")
    assert run(["--state-dir", str(tmp_path), "signout"]) == 0
    assert "nothing to do" in capsys.readouterr().out


# -- help a newcomer can use (issue 13 item 9) -----------------------------------------------------------

def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        run([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_says_no_command_starts_the_wizard_and_lists_commands_and_scenarios(
        capsys: pytest.CaptureFixture[str]) -> None:
    from dex_tui.cli import SUBCOMMANDS
    from dex_tui.settings import shipped_scenario_names

    text = _help(capsys=capsys)
    flat = " ".join(text.split())
    assert "With no command, dex-tui starts the wizard in this terminal" in flat
    for command in SUBCOMMANDS:
        assert f"\n    {command} " in text, command
    scenarios = text.split("demo scenarios (--demo SCENARIO):", 1)[1]
    for name in shipped_scenario_names():
        assert f"\n  {name} " in scenarios, name
    assert "Defender Antivirus in passive mode" in " ".join(scenarios.split())
    assert "exit codes: 0 ready" in text


@pytest.mark.parametrize(("command", "shown", "hidden"), [
    ("signout", {"--account", "--state-dir", "--config"},
     {"--tenant", "--login-url", "--demo", "--browser", "--restart", "--token-cache"}),
    ("demo-server", {"--scenario", "--port", "--approval", "--demo", "--config"},
     {"--tenant", "--ca-bundle", "--state-dir", "--restart"}),
    ("demo-record", {"--output"}, {"--tenant", "--demo", "--config", "--state-dir", "--restart"}),
    ("check", {"--service", "--answers", "--format", "--output", "--tenant", "--ca-bundle", "--demo"},
     {"--restart", "--browser", "--account"}),
    ("signin", {"--browser", "--port", "--account", "--tenant", "--login-url", "--demo"},
     {"--restart", "--service", "--answers"}),
])
def test_each_command_help_lists_only_the_options_that_mean_something_for_it(
        command: str, shown: set[str], hidden: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(command, capsys=capsys)
    assert text.startswith(f"usage: dex-tui {command} ")
    listed = {line.split()[0].rstrip(",") for line in text.splitlines() if line.startswith("  -")}
    listed |= {line.split()[1] for line in text.splitlines() if line.startswith("  -h, ")}
    assert shown <= listed, shown - listed
    assert not hidden & listed, hidden & listed


def test_an_internal_error_is_one_punctuated_line(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import dex_tui.commands.check as check_command

    def broken(settings: object, args: object) -> int:
        raise ModuleNotFoundError("No module named 'trustme'")

    monkeypatch.setattr(check_command, "run", broken)
    assert run(["--demo", "check"]) == 4
    assert capsys.readouterr().err == ("dex-tui: Internal error: ModuleNotFoundError: No module named 'trustme'. "
                                       "Please report this with the command you ran.\n")


# -- the wizard needs a terminal (issue 13 item 5) --------------------------------------------------------

@pytest.mark.parametrize("argv", [["--demo"], ["--demo", "fresh", "--restart"], []])
def test_the_wizard_without_a_terminal_says_so_at_once(tmp_path: Path, argv: list[str]) -> None:
    out = tmp_path / "screen.txt"
    env = {**os.environ, "DEX_TUI_STATE_DIR": str(tmp_path / "state")}
    with out.open("wb") as stdout:
        result = subprocess.run([sys.executable, "-m", "dex_tui", *argv], stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE, text=True, timeout=60, env=env, cwd=tmp_path)
    assert result.returncode == 4
    (line,) = result.stderr.strip().splitlines()
    assert "The wizard needs a terminal" in line and "dex-tui check" in line
    assert out.read_bytes() == b"", "no escape sequence was written"
    assert not (tmp_path / "state" / "progress").exists()


@pytest.mark.parametrize(("argv", "demo", "approval"), [
    (["--demo"], "ready", None),
    (["--demo", "--approval", "auto"], "ready", "auto"),
    (["--approval", "ca_block", "--demo", "fresh"], "fresh", "ca_block"),
])
def test_the_demo_wizard_takes_an_approval_mode(monkeypatch, argv: list[str], demo: str,
                                                approval: str | None) -> None:
    import dex_tui.cli
    from dex_tui.demo.scenario import APPROVAL_MODES

    started: list[tuple[str | None, str | None]] = []
    monkeypatch.setattr(dex_tui.cli, "_start_wizard",
                        lambda settings, restart, argv=(), approval=None, service=None: started.append(
                            (settings.demo, approval)) or 0)
    assert run(argv) == 0
    assert started == [(demo, approval)]
    assert dex_tui.cli.APPROVALS == APPROVAL_MODES
