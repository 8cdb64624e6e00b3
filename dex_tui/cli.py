"""The ``dex-tui`` command line: global options, subcommands, exit codes.

Only what the chosen command needs is imported: the command's parser is built (and its module
imported) only for that command, so ``--version``, ``check`` and ``signin`` never load the UI (Textual,
``screens``) or another command's module. The wizard is imported when it starts.

One rule for options: an option is accepted before or after the command, and only by the commands it
means something for; given to any other command it is refused (exit 4), never silently ignored.
Settings from ``DEX_TUI_*`` variables and the config file apply where they mean something and are
never refused.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from dex_tui import TOOL_NAME, __version__, console
from dex_tui.clouds import CLOUD_NAMES
from dex_tui.collector import release
from dex_tui.errors import DexError, ExitCode, InternalError, UsageError
from dex_tui.settings import DEFAULT_SCENARIO, TOKEN_CACHE_MODES, Settings, resolve_settings
from dex_tui.shutdown import Terminated, finish, install_signal_handlers

# How a demo device code may be answered (dex_tui.demo.scenario.APPROVAL_MODES, without importing the fake).
APPROVALS = ("auto", "on_demand", "decline", "expire", "ca_block")
# Subcommand -> one line for the help.
SUBCOMMANDS: dict[str, str] = {
    "signin": "sign in (device code, or --browser on a local desktop) and show who signed in",
    "signout": "forget remembered sign-ins: the accounts, the encrypted cache file and its key",
    "check": "run the live checks headless and print or write the readiness report (exit code = verdict)",
    "demo-server": "serve a demo tenant over loopback HTTPS for --login-url/--graph-url/--mde-url/--ca-bundle",
    "demo-record": "play a demo walkthrough in the wizard headless and write an SVG screenshot per marked step",
}
# Subcommand -> its module, offering ``add_arguments(parser, name)`` and ``run(settings, args)``: a name
# under dex_tui.commands, or a full dotted path (the UI's commands live with the UI).
_MODULES: dict[str, str] = {
    "signin": "signin",
    "signout": "signin",
    "demo-server": "demo_server",
    "check": "check",
    "demo-record": "screens.record_command",
}

# The global options: setting name -> (metavar, help).
GLOBAL_OPTIONS: dict[str, tuple[str, str]] = {
    "tenant": ("TENANT", "tenant ID (GUID) or a verified domain; default organizations"),
    "client_id": ("GUID", "application (client) ID to sign in with"),
    "cloud": ("CLOUD", f"one of {', '.join(CLOUD_NAMES)}; detected from the tenant's OpenID metadata "
                       "when omitted"),
    "login_url": ("URL", "identity host root (https); the tenant is appended"),
    "graph_url": ("URL", "Microsoft Graph root (https); /v1.0/... is appended"),
    "mde_url": ("URL", "Defender for Endpoint API root (https); /api/... is appended"),
    "ca_bundle": ("FILE", "extra CA certificate(s) to trust (PEM), added to the system roots; "
                          "verification is never switched off"),
    "token_cache": ("MODE", f"{' or '.join(TOKEN_CACHE_MODES)} (default keyring: an encrypted file whose key "
                            "is in the OS keyring)"),
    "config": ("FILE", "TOML config file (default: config.toml in the platform's config directory)"),
    "state_dir": ("DIR", "where progress, the audit trail and the token cache file live"),
    "demo": ("SCENARIO", f"run against a built-in fake tenant instead of Microsoft (default scenario: "
                         f"{DEFAULT_SCENARIO})"),
}
_CONNECT = ("tenant", "client_id", "cloud", "login_url", "graph_url", "mde_url", "ca_bundle", "token_cache",
            "config", "state_dir", "demo")
# Which global options each command takes (None: the wizard, which also takes --restart).
COMMAND_GLOBALS: dict[str | None, tuple[str, ...]] = {
    None: _CONNECT,
    "signin": _CONNECT,
    "check": _CONNECT,
    "signout": ("config", "state_dir"),  # it forgets the stored sign-ins, whatever --token-cache says
    "demo-server": ("config", "demo"),
    "demo-record": (),
}

EPILOG = """\
exit codes: 0 ready, 1 warnings only, 2 a blocker, 3 could not evaluate (sign-in, permission,
network), 4 usage or internal error, 130 interrupted, 143/129 stopped by SIGTERM/SIGHUP.
settings come from, highest first: the command line, DEX_TUI_* environment variables, the config
file (--config, DEX_TUI_CONFIG, or the platform's config directory), defaults.
"""

USAGE = f"""\
{TOOL_NAME} [OPTIONS] [--restart] [--service SERVICE]  start the wizard in this terminal
       {TOOL_NAME} [OPTIONS] COMMAND [COMMAND OPTIONS]  run a command (see '{TOOL_NAME} COMMAND --help')
       {TOOL_NAME} --version | --help"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises a UsageError (exit 4, one line) instead of exiting 2, and builds its epilog
    only when the help is shown (the top-level one reads every scenario file)."""

    epilog_factory: Callable[[], str] | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')", title="Invalid usage")

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog, self.epilog_factory = self.epilog_factory(), None
        return super().format_help()


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _global_options(parser: argparse.ArgumentParser, shown: Sequence[str]) -> None:
    """Every global option (so one given to the wrong command gets a clear refusal, not argparse's
    "unrecognized arguments"), listed in the help only when ``shown``. Defaults are SUPPRESS so a
    subcommand never clobbers a value given before it."""
    s = argparse.SUPPRESS
    group = parser.add_argument_group("global options (before or after the command)") if shown else parser
    for name, (metavar, text) in GLOBAL_OPTIONS.items():
        kwargs: dict[str, Any] = {"default": s, "metavar": metavar, "help": text if name in shown else s}
        if name == "demo":
            kwargs.update(nargs="?", const=DEFAULT_SCENARIO)
        (group if name in shown else parser).add_argument(_option(name), **kwargs)


def _scenario_list() -> str:
    """The shipped demo scenarios with their one-line summaries, for the top-level help."""
    import tomllib

    from dex_tui.assets import asset_path
    from dex_tui.settings import shipped_scenario_names

    lines = []
    for name in shipped_scenario_names():
        try:
            data = tomllib.loads(asset_path("scenarios", f"{name}.toml").read_text(encoding="utf-8"))
            summary = str(data.get("scenario", {}).get("summary", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            summary = ""
        lines.append(textwrap.fill(summary, _help_width(), initial_indent=f"  {name:<23}",
                                   subsequent_indent=" " * 25) if summary else f"  {name}")
    return "\n".join(lines)


def _help_width() -> int:
    """The width argparse wraps to, for the paragraphs it leaves alone (RawDescriptionHelpFormatter)."""
    return max(60, min(100, shutil.get_terminal_size().columns - 2))


def _top_parser(add_help: bool = True) -> _Parser:
    paragraphs = (
        "Onboard a Microsoft 365 tenant to Microsoft Defender Experts: MDR as onboarded today, XDR as the "
        "2022 preview documents describe it, or Defender Experts for Hunting.",
        f"With no command, {TOOL_NAME} starts the wizard in this terminal. Try it without a Microsoft "
        f"account on a built-in fake tenant: {TOOL_NAME} --demo [SCENARIO] (the scenarios are listed "
        f"below). For scripts and CI, use '{TOOL_NAME} check'.",
    )
    description = "\n\n".join(textwrap.fill(p, _help_width()) for p in paragraphs)
    return _Parser(prog=TOOL_NAME, usage=USAGE, description=description, add_help=add_help,
                   formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command`` (None: the wizard and the top-level help). Every command is listed,
    but only ``command``'s own parser is built, and so only its module imported."""
    from dex_tui.answers import SERVICES

    parser = _top_parser()
    parser.epilog_factory = lambda: f"demo scenarios (--demo SCENARIO):\n{_scenario_list()}\n\n{EPILOG}"
    parser.add_argument("--version", action="store_true", help="print the version and exit (the other "
                        "options are checked first: a bad value exits 4)")
    parser.add_argument("--restart", action="store_true", default=argparse.SUPPRESS,
                        help="wizard only: forget the saved progress for this tenant and start over")
    parser.add_argument("--approval", metavar="MODE", choices=APPROVALS, default=argparse.SUPPRESS,
                        dest="wizard_approval",
                        help="wizard with --demo only: how the demo answers the device code (default: it "
                             "waits for you to press a, then gives the scenario's answer; auto approves by "
                             "itself after ~8 s; on_demand approves on a; decline, expire or ca_block "
                             "answer so on a)")
    parser.add_argument("--service", dest="wizard_service", choices=SERVICES, metavar="SERVICE",
                        default=argparse.SUPPRESS,
                        help=f"wizard only: the service chosen on the Welcome step, one of {', '.join(SERVICES)} "
                             "(mdr: today's flow; xdr: the 2022 preview documents; hunting)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog=TOOL_NAME,
                                title="commands (each has its own --help)")
    _global_options(parser, COMMAND_GLOBALS[None])
    for name, summary in SUBCOMMANDS.items():
        if name != command:
            sub.add_parser(name, help=summary, add_help=False)
            continue
        cmd = sub.add_parser(name, help=summary, description=summary, epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        _command_module(name).add_arguments(cmd, name)
        _global_options(cmd, COMMAND_GLOBALS[name])
        # Accepted here too so that the same rule answers wherever they are written.
        cmd.add_argument("--version", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        cmd.add_argument("--restart", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name != "demo-server":  # which has an --approval of its own
            cmd.add_argument("--approval", metavar="MODE", default=argparse.SUPPRESS, dest="wizard_approval",
                             help=argparse.SUPPRESS)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    """Which command ``argv`` names, found with the global options' syntax only (no command's parser is
    built, no module imported; help and unknown options are left for the real parse)."""
    finder = _top_parser(add_help=False)
    finder.add_argument("--version", action="store_true")
    finder.add_argument("--restart", action="store_true")
    finder.add_argument("--approval", dest="wizard_approval")
    finder.add_argument("--service", dest="wizard_service")
    _global_options(finder, ())
    sub = finder.add_subparsers(dest="command", parser_class=_Parser)
    for name in SUBCOMMANDS:
        sub.add_parser(name, add_help=False)
    known, _ = finder.parse_known_args(argv)
    command: str | None = known.command
    return command


def _command_module(name: str) -> Any:
    """A command's module: a name under dex_tui.commands, or a full dotted path (the UI's commands)."""
    module = _MODULES[name]
    return importlib.import_module(module if "." in module else f"dex_tui.commands.{module}")


def _refuse_options_of_other_commands(args: argparse.Namespace) -> None:
    command = args.command
    where = f"'{TOOL_NAME} {command}'" if command else "the wizard"
    if command is not None and hasattr(args, "wizard_service"):
        raise UsageError(f"--service before the command applies to the wizard only; for {where} write it after "
                         f"the command ('{TOOL_NAME} {command} --service ...').", title="Invalid usage")
    if command is not None and getattr(args, "restart", False):
        raise UsageError(f"--restart only applies to the wizard ('{TOOL_NAME} --restart', without a command), "
                         f"not to {where}.", title="Invalid usage")
    if command is not None and getattr(args, "wizard_approval", None) is not None:
        own = " (give demo-server's own --approval after the command)" if command == "demo-server" else ""
        raise UsageError(f"--approval before a command only applies to the demo wizard ('{TOOL_NAME} --demo "
                         f"SCENARIO --approval MODE'), not to {where}{own}.", title="Invalid usage")
    allowed = COMMAND_GLOBALS[command]
    given = [name for name in GLOBAL_OPTIONS if hasattr(args, name)]
    for name in given:
        if name not in allowed:
            takes = ", ".join(_option(n) for n in allowed) or "none of the global options"
            help_command = f"{TOOL_NAME} {command} --help" if command else f"{TOOL_NAME} --help"
            raise UsageError(f"{_option(name)} does not apply to {where}, which takes {takes}.",
                             title="Invalid usage", next_step=f"See '{help_command}'.")


def _settings_from(args: argparse.Namespace) -> Settings:
    cli = {key: getattr(args, key, None) for key in GLOBAL_OPTIONS}
    return resolve_settings(cli)


def _fix_demo_before_command(argv: list[str]) -> list[str]:
    """``dex-tui --demo check`` means the default scenario, then the check command."""
    fixed = list(argv)
    for i, token in enumerate(fixed[:-1]):
        if token == "--demo" and fixed[i + 1] in SUBCOMMANDS:
            fixed.insert(i + 1, DEFAULT_SCENARIO)
            break
    return fixed


def missing_terminal() -> str | None:
    """Why the wizard cannot draw here (stdin or stdout is not a terminal), or None."""
    for name, stream in (("standard input", sys.stdin), ("standard output", sys.stdout)):
        isatty = getattr(stream, "isatty", None)
        try:
            ok = bool(isatty and isatty())
        except ValueError:  # a closed stream
            ok = False
        if not ok:
            return f"{name} is not a terminal"
    return None


def _start_wizard(settings: Settings, restart: bool, argv: Sequence[str] = (), approval: str | None = None,
                  service: str | None = None) -> int:
    why = missing_terminal()
    if why:
        raise UsageError(f"The wizard needs a terminal, and {why}.", title="No terminal",
                         next_step=f"Run it in a terminal; for scripts use '{TOOL_NAME} check', which prints "
                                   "or writes the readiness report and exits with its verdict.")
    from screens.app import run_wizard  # the only place the core reaches the UI, lazily; it releases the
    # collector (dex_tui.collector) once its first screen is drawn

    return run_wizard(settings, restart=restart, argv=argv, approval=approval, service=service)


def _print_error(error: DexError) -> None:
    console.err(f"{TOOL_NAME}: {error.one_line()}")


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return its exit code (never raises for known errors)."""
    argv = _fix_demo_before_command(list(sys.argv[1:] if argv is None else argv))
    try:
        args = build_parser(_chosen_command(argv)).parse_args(argv)
        _refuse_options_of_other_commands(args)
        settings = _settings_from(args)
        if getattr(args, "version", False):
            console.out(f"{TOOL_NAME} {__version__}")
            return int(ExitCode.READY)
        if args.command is None:
            approval = getattr(args, "wizard_approval", None)
            if approval is not None and not settings.is_demo:
                raise UsageError(f"--approval only applies to the demo ('{TOOL_NAME} --demo SCENARIO --approval "
                                 "MODE'): a real sign-in is approved by you, at the Microsoft page.",
                                 title="Invalid usage")
            return _start_wizard(settings, restart=bool(getattr(args, "restart", False)), argv=argv, approval=approval,
                                 service=getattr(args, "wizard_service", None))
        if args.command != "check":  # the check releases the collector itself, once its modules are in;
            release()  # the wizard (above) once its first screen is drawn
        return int(_command_module(args.command).run(settings, args))
    except DexError as error:
        _print_error(error)
        return int(error.exit_code)
    except KeyboardInterrupt:
        console.err(f"{TOOL_NAME}: interrupted.")
        return int(ExitCode.INTERRUPTED)
    except Terminated as stop:  # SIGTERM, SIGHUP: as Ctrl+C, with the shell's code for the signal
        console.err(f"{TOOL_NAME}: stopped by {stop.name}.")
        return stop.exit_code
    except BrokenPipeError:  # a reader went away while help or a listing was printed
        console.silence(sys.stdout)
        return int(ExitCode.READY)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        _print_error(InternalError(f"{type(exc).__name__}: {exc}",
                                   next_step="Please report this with the command you ran."))
        return int(ExitCode.USAGE)


def main() -> int:
    """Console-script entry point: the process ends with the code at once, never waiting for a read still
    in flight in a worker thread (``dex_tui.shutdown``)."""
    install_signal_handlers()
    code = int(ExitCode.USAGE)
    try:
        code = run()
    except KeyboardInterrupt:  # a second Ctrl+C while the first one was being handled
        code = int(ExitCode.INTERRUPTED)
    except Terminated as stop:
        code = stop.exit_code
    finally:
        console.flush_quietly()
    return finish(code)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
