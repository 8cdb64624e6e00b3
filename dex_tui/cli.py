"""The ``dex-tui`` command line: global options, subcommands, exit codes.

The wizard (Textual) is imported lazily, only when it is started; ``--version``, ``check`` and the
other subcommands never import it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from dex_tui import TOOL_NAME, __version__
from dex_tui.clouds import CLOUD_NAMES
from dex_tui.errors import DexError, ExitCode, InternalError, UsageError
from dex_tui.settings import DEFAULT_SCENARIO, TOKEN_CACHE_MODES, Settings, resolve_settings

# Subcommand -> module in dex_tui.commands providing ``add_arguments(parser)`` and ``run(settings, args)``.
SUBCOMMANDS: dict[str, str] = {
    "signin": "sign in (device code, or --browser on a local desktop) and show who signed in",
    "signout": "forget remembered sign-ins: the accounts, the encrypted cache file and its key",
    "demo-server": "serve a demo tenant over loopback HTTPS for --login-url/--graph-url/--mde-url/--ca-bundle",
    "check": "run the live checks headless and print or write the readiness report (exit code = verdict)",
    "demo-record": "play a demo walkthrough in the wizard headless and write an SVG screenshot per marked step",
}
_MODULES: dict[str, str] = {
    "signin": "signin",
    "signout": "signin",
    "demo-server": "demo_server",
    "check": "check",
    "demo-record": "screens.record_command",  # a UI command: its module lives with the UI
}

EPILOG = """\
exit codes: 0 ready, 1 warnings only, 2 a blocker, 3 could not evaluate (sign-in, permission,
network), 4 usage or internal error, 130 interrupted.
settings come from, highest first: the command line, DEX_TUI_* environment variables, the config
file (--config, DEX_TUI_CONFIG, or the platform's config directory), defaults.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises a UsageError (exit 4, one line) instead of exiting 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')", title="Invalid usage")


def _global_options(parser: argparse.ArgumentParser) -> None:
    """Options every command shares. Defaults are SUPPRESS so a subcommand never clobbers a value
    given before it."""
    s = argparse.SUPPRESS
    g = parser.add_argument_group("global options")
    g.add_argument("--tenant", default=s, metavar="TENANT", help="tenant ID (GUID) or domain")
    g.add_argument("--client-id", default=s, metavar="GUID", help="application (client) ID to sign in with")
    g.add_argument("--cloud", default=s, metavar="CLOUD", help=f"one of {', '.join(CLOUD_NAMES)}; "
                   "detected from the tenant's OpenID metadata when omitted")
    g.add_argument("--login-url", default=s, metavar="URL", help="identity host root; the tenant is appended")
    g.add_argument("--graph-url", default=s, metavar="URL", help="Microsoft Graph root; /v1.0/... is appended")
    g.add_argument("--mde-url", default=s, metavar="URL",
                   help="Defender for Endpoint API root; /api/... is appended")
    g.add_argument("--ca-bundle", default=s, metavar="FILE",
                   help="extra CA certificate(s) to trust (PEM); verification is never switched off")
    g.add_argument("--token-cache", default=s, metavar="MODE",
                   help=f"{' or '.join(TOKEN_CACHE_MODES)} (default keyring)")
    g.add_argument("--config", default=s, metavar="FILE", help="TOML config file")
    g.add_argument("--state-dir", default=s, metavar="DIR",
                   help="where progress, the audit trail and the token cache file live")
    g.add_argument("--demo", nargs="?", const=DEFAULT_SCENARIO, default=s, metavar="SCENARIO",
                   help=f"run against the built-in fake tenant (default scenario: {DEFAULT_SCENARIO})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=TOOL_NAME, description="Onboard a Microsoft 365 tenant to Microsoft Defender "
                     "Experts for XDR and check eligibility for Defender Experts for Hunting.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit "
                        "(after validating the other options)")
    parser.add_argument("--restart", action="store_true", default=argparse.SUPPRESS,
                        help="wizard: forget the saved progress for this tenant and start over")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, summary in SUBCOMMANDS.items():
        cmd = sub.add_parser(name, help=summary, description=summary, epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        _global_options(cmd)
        _command_module(name).add_arguments(cmd, name)
    return parser


def _command_module(name: str) -> Any:
    """A command's module: a name under dex_tui.commands, or a full dotted path (the UI's commands)."""
    module = _MODULES[name]
    return importlib.import_module(module if "." in module else f"dex_tui.commands.{module}")


def _settings_from(args: argparse.Namespace) -> Settings:
    cli = {key: getattr(args, key, None) for key in
           ("tenant", "client_id", "cloud", "login_url", "graph_url", "mde_url", "ca_bundle",
            "token_cache", "config", "demo", "state_dir")}
    return resolve_settings(cli)


def _fix_demo_before_command(argv: list[str]) -> list[str]:
    """``dex-tui --demo check`` means the default scenario, then the check command."""
    fixed = list(argv)
    for i, token in enumerate(fixed[:-1]):
        if token == "--demo" and fixed[i + 1] in SUBCOMMANDS:
            fixed.insert(i + 1, DEFAULT_SCENARIO)
            break
    return fixed


def _print_error(error: DexError) -> None:
    print(f"{TOOL_NAME}: {error.one_line()}", file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return its exit code (never raises for known errors)."""
    argv = _fix_demo_before_command(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser().parse_args(argv)
        settings = _settings_from(args)
        if args.version:
            print(f"{TOOL_NAME} {__version__}")
            return int(ExitCode.READY)
        if args.command is None:
            from screens.app import run_wizard  # the only place the core reaches the UI, lazily

            return run_wizard(settings, restart=bool(getattr(args, "restart", False)))
        return int(_command_module(args.command).run(settings, args))
    except DexError as error:
        _print_error(error)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print(f"{TOOL_NAME}: interrupted.", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        _print_error(InternalError(f"{type(exc).__name__}: {exc}",
                                   next_step="Please report this with the command you ran."))
        return int(ExitCode.USAGE)


def main() -> int:
    """Console-script entry point."""
    return run()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
