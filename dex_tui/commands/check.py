"""``dex-tui check``: sign in like ``dex-tui signin``, run every live check, print or write the readiness
report, and exit with its verdict (0 ready, 1 warnings, 2 a blocker, 3 could not evaluate)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dex_tui import TOOL_NAME, console
from dex_tui.answers import SERVICES
from dex_tui.collector import release
from dex_tui.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from dex_tui.app_signin import AppSignedIn
    from dex_tui.auth import SignedIn
    from dex_tui.results import CheckResult
    from dex_tui.settings import Settings

FORMATS = ("text", "json", "markdown", "html")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--service", choices=SERVICES, metavar="SERVICE",
                        help="xdr (Defender Experts for XDR, the 2022 seed flow; the default), mdr (Defender "
                             "Experts MDR, today's flow) or hunting; overrides the answers file")
    parser.add_argument("--answers", metavar="FILE", type=Path,
                        help="the operator's recorded decisions (TOML, see 'Answers file' in the README)")
    parser.add_argument("--format", choices=FORMATS, metavar="FORMAT",
                        help="text, json, markdown or html (default: text on a terminal, json otherwise; "
                             "with --output, from the file extension)")
    parser.add_argument("--output", metavar="FILE", type=Path,
                        help="write the report to FILE (a regular file, replaced atomically, readable by you "
                             "only) instead of stdout; checked before sign-in; '-' is stdout")
    parser.add_argument("--no-interactive", action="store_true",
                        help="use a remembered sign-in only; exit 3 when none can be used silently")
    parser.add_argument("--client-certificate", metavar="PEM", type=Path,
                        help="sign in as an application (unattended runs, CI) with this PEM file holding its "
                             "private key and certificate; needs --tenant and --client-id (also from "
                             "DEX_TUI_CLIENT_CERTIFICATE)")
    parser.add_argument("--certificate-thumbprint", metavar="HEX",
                        help="the certificate's SHA-1 thumbprint, when the PEM holds only the private key "
                             "(also from DEX_TUI_CLIENT_CERTIFICATE_THUMBPRINT)")
    parser.add_argument("--compare", metavar="PREVIOUS.json", type=Path,
                        help="mark every check new, fixed, regressed or unchanged against an earlier JSON report "
                             "of the same tenant and service ('Changes since DATE' at the top of the report)")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="with --compare: exit 2 when a check regressed (for CI), unless the verdict is "
                             "already 2 or 3")


def _err(text: str) -> None:
    console.err(text)


def _use_color(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def choose_format(requested: str | None, output: Path | None, stdout_is_tty: bool) -> str:
    from dex_tui.report import format_for_path

    if requested:
        return requested
    if output is not None:
        return format_for_path(output)
    return "text" if stdout_is_tty else "json"


def run(settings: Settings, args: argparse.Namespace) -> int:
    from dex_tui.acknowledgements import attach as acknowledge
    from dex_tui.acknowledgements import evaluate, report_day
    from dex_tui.answers import Answers, load_answers
    from dex_tui.app_signin import AppRun, certificate_source, load_client_certificate
    from dex_tui.catalogue import check_ids_for
    from dex_tui.engine import Checker
    from dex_tui.headless_signin import headless_sign_in
    from dex_tui.report import build_report, check_output_path, render, write_text_atomic
    from dex_tui.runtime import Runtime

    release()  # start-up is over (dex_tui.collector)

    answers = load_answers(args.answers) if args.answers else Answers()
    if args.service and args.service != answers.service:
        from dataclasses import replace

        answers = replace(answers, service=args.service)
    output = None if args.output is None or str(args.output) == "-" else args.output
    if output is not None:  # before sign-in: a device code for nothing is worse than an early error
        output = check_output_path(output)
    fmt = choose_format(args.format, output, sys.stdout.isatty())
    if args.fail_on_regression and args.compare is None:
        raise UsageError("--fail-on-regression needs --compare PREVIOUS.json (the report to compare with).")
    previous = None
    if args.compare is not None:  # before sign-in too, and the service can be matched already
        from dex_tui.drift import DriftRefused, load_previous

        previous = load_previous(args.compare)
        if previous.service != answers.service:
            raise DriftRefused(f"{previous.source} is a report for the service {previous.service!r}, and this "
                               f"run checks {answers.service!r}.",
                               next_step="Compare reports of the same service (--service), or leave out --compare.")

    app = None
    source = certificate_source(args.client_certificate, args.certificate_thumbprint)
    if source is not None:  # checked before anything goes on the network, like --output
        path, named, thumbprint, passphrase = source
        certificate = load_client_certificate(path, source=named, thumbprint=thumbprint, passphrase=passphrase)
    runtime = Runtime(settings)
    try:
        if source is not None:
            app = AppRun(runtime, certificate)
        if settings.is_demo:
            _err(f"Demo mode: checking the built-in fake tenant (scenario {settings.demo}); nothing real is read.")
        signed: SignedIn | AppSignedIn
        if app is not None:
            signed = app.sign_in()
            _err(f"Signed in as the application {signed.display_name or signed.client_id} with the certificate "
                 f"{signed.thumbprint}; checks that need a signed-in person are skipped.")
        else:
            signed = headless_sign_in(runtime, interactive=not args.no_interactive)
        if previous is not None and signed.tenant_id:  # another tenant's report: refused before any read
            from dex_tui.drift import ensure_same_target

            ensure_same_target(previous, signed.tenant_id, answers.service)
        checker = app.checker() if app is not None else Checker.for_runtime(runtime)
        lock = threading.Lock()
        seen = [0]
        over = threading.Event()  # the run ended (Ctrl+C too): a read still in flight prints nothing more
        total = len(check_ids_for(answers.service))

        def progress(result: CheckResult) -> None:
            with lock:
                if over.is_set():
                    return
                seen[0] += 1
                _err(f"[{seen[0]:>2}/{total}] {result.status.value:<7} {result.id}: {result.title}")

        try:
            results = (app.run(checker, answers, on_result=progress) if app is not None
                       else checker.run(answers, on_result=progress))
        finally:
            with lock:
                over.set()
        # The demo's clock is the scenario's, so the same scenario always gives the same report.
        generated_at = runtime.fake_cloud.scenario.now if runtime.fake_cloud is not None else None
        report = build_report(results, checker.facts, answers, demo=settings.demo, signed_in=signed,
                              generated_at=generated_at)
        if app is not None:
            report = app.annotate(report)
        report = acknowledge(report, results, evaluate(results, answers.waivers(), report_day(report), answers))
    finally:
        runtime.close()
    drift = None
    if previous is not None:
        from dex_tui.drift import attach, compare

        drift = compare(report, previous)
        report = attach(report, drift)
    code = int(report["exit_code"])
    if drift is not None and args.fail_on_regression:
        from dex_tui.drift import Change, exit_code_with_regressions

        code = exit_code_with_regressions(code, drift)
        if drift.regressed:
            _err(f"Regressed since {drift.since}: {len(drift.of(Change.REGRESSED))} "
                 f"check(s) (--fail-on-regression: exit code {code}).")

    if output is not None:
        try:
            path = write_text_atomic(output, render(report, fmt))
        except UsageError as error:  # the folder changed during the run: the report is not lost
            _err(f"{TOOL_NAME}: {error.one_line()} The report follows on standard output instead.")
            console.emit(sys.stdout, render(report, fmt))
            return int(ExitCode.USAGE)
        _err(f"Report written to {path} ({fmt}).")
        _err(f"Verdict: {report['verdict_text']} (exit code {report['exit_code']})")
    else:
        on_terminal = fmt == "text" and sys.stdout.isatty()
        width = shutil.get_terminal_size().columns if on_terminal else None
        console.emit(sys.stdout, render(report, fmt, color=on_terminal and _use_color(sys.stdout), width=width))
    return code
