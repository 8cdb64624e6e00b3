"""What the wizard prints on the normal screen when it ends (Finish, Ctrl+Q, Ctrl+C, a signal): the
verdict and the warnings, where the progress, the audit trail and any exported report are (full paths
and the host they are on, which matters over SSH), and the exact command that resumes.

Headless: it reads a :class:`~dex_tui.session.WizardSession` and returns lines; the front end prints
them after the terminal left the alternate screen. Every value from the tenant, a file name or the
host is neutralised (``safety.clean_text``) and bounded.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dex_tui import TOOL_NAME
from dex_tui.errors import ExitCode
from dex_tui.safety import clean_text

if TYPE_CHECKING:
    from dex_tui.session import WizardSession

MAX_WARNINGS_NAMED = 6  # the summary names this many checks that need attention, then counts the rest
MAX_PATH = 400


def host_name() -> str:
    """This machine's name as the operator would type it in ``scp`` (neutralised, bounded)."""
    try:
        name = socket.gethostname()
    except OSError:
        name = ""
    return clean_text(name, 100) or "this machine"


def resume_argv(argv: Sequence[str], tenant: str | None, given_tenant: str | None) -> list[str]:
    """The command line that continues this run: ``argv`` (the options as typed, so ``--client-id``,
    ``--config`` and the rest still apply) without ``--restart``, with the tenant chosen on the Welcome
    step in place of ``--tenant`` when the operator changed it there."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
            continue
        if arg == "--restart":
            continue
        if tenant != given_tenant and (arg == "--tenant" or arg.startswith("--tenant=")):
            skip_value = arg == "--tenant"
            continue
        kept.append(arg)
    if tenant != given_tenant and tenant:
        kept += ["--tenant", tenant]
    return [TOOL_NAME, *kept]


def resume_command(session: WizardSession, argv: Sequence[str]) -> str:
    """:func:`resume_argv` as one shell line (each argument quoted as the shell needs, neutralised).
    Without ``argv`` (a wizard started from code) the options that find this run's progress again."""
    settings = session.settings
    if not argv:
        argv = [*(["--demo", settings.demo] if settings.demo else []),
                *(["--tenant", settings.tenant] if settings.tenant and not settings.demo else []),
                *(["--state-dir", str(settings.state_dir)] if settings.state_dir else [])]
    # A demo's progress is found by its scenario, whatever the tenant field says.
    tenant = settings.tenant if settings.demo else session.tenant_choice
    line = shlex.join(resume_argv(argv, tenant, settings.tenant))
    return clean_text(line, 1000)


def _verdict(session: WizardSession) -> str:
    from dex_tui.report import VERDICT_TEXT, verdict_for

    if session.checks_running:
        return "No verdict: the checks were still running."
    if not session.results:
        return "No verdict: the checks did not run in this session (nobody signed in)."
    return VERDICT_TEXT[verdict_for(session.results.values())]


def _warnings(session: WizardSession) -> tuple[list[str], list[str]]:
    """What needs attention now (the skipped roles, then each check that failed, warned or could not be
    read, by title), and the titles of the steps ahead that settle the other such checks."""
    from dex_tui.answers import role_label
    from dex_tui.catalogue import ALL_CHECK_IDS

    answers = session.state.answers
    named = [f"{role_label(role)} skipped" for role in answers.skipped_roles() if answers.service == "xdr"]
    ahead: dict[str, None] = {}
    for check_id in ALL_CHECK_IDS:
        result = session.results.get(check_id)
        if result is None or result.status.value not in ("fail", "warn", "unknown"):
            continue
        settling = session.flow.step_settling(check_id, answers.service)
        if settling is not None and settling.id not in session.state.completed:
            ahead[settling.title] = None
            continue
        if check_id == "experts.roles":  # its warnings are the skipped roles, named above
            continue
        named.append(f"{clean_text(result.title, 80)} ({result.status.value})")
    if len(named) > MAX_WARNINGS_NAMED:
        named = [*named[:MAX_WARNINGS_NAMED], f"and {len(named) - MAX_WARNINGS_NAMED} more"]
    return named, list(ahead)


def exit_summary(session: WizardSession, code: int, argv: Sequence[str]) -> list[str]:
    """The lines to print once the wizard has ended with exit ``code``; ``argv`` is the command line it
    was started with (without the program name)."""
    host = host_name()
    step = session.flow.get(session.resume_to or session.state.step)
    number, total = session.flow.step_number(step.id, session.state.answers.service)
    last = session.flow.steps_for(session.state.answers.service)[-1].id
    if code == int(ExitCode.INTERRUPTED):
        how = f"stopped with Ctrl+C at step {number}/{total} ({step.title})"
    elif last in session.state.completed:
        how = f"finished (exit code {code}, as '{TOOL_NAME} check' would give)"
    else:
        how = f"left at step {number}/{total} ({step.title})"
    lines = [f"{TOOL_NAME}: the wizard {how}, on host {host}."]
    lines.append(f"  Verdict:     {_verdict(session)}")
    warnings, ahead = _warnings(session)
    if warnings:
        lines.append("  Needs attention:")
        lines += [f"    - {warning}" for warning in warnings]
    if ahead:
        lines.append(f"  Still to do: {', '.join(ahead)}")
    progress = session.progress_store.path
    if progress.exists():
        lines.append(f"  Progress:    {clean_text(progress.resolve(), MAX_PATH)} (saved)")
    else:
        lines.append(f"  Progress:    not saved (it would be {clean_text(progress.resolve(), MAX_PATH)})")
    trail = session.audit.path
    if trail.exists():
        lines.append(f"  Audit trail: {clean_text(trail.resolve(), MAX_PATH)}")
    else:
        lines.append(f"  Audit trail: nothing recorded yet (it will be {clean_text(trail.resolve(), MAX_PATH)})")
    for path, fmt in dict(session.exports).items():  # a file exported twice is named once, its last format
        lines.append(f"  Report:      {clean_text(path, MAX_PATH)} ({fmt}) on host {host}")
    lines.append(f"  Resume with: {resume_command(session, argv)}")
    return lines
