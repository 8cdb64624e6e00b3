"""The readiness report: a JSON document (the source of truth, schema in the README) and the text,
Markdown and HTML views rendered from it (``report_text``, ``report_markdown``, ``report_html``, each
imported only for its format, with the pieces they share here); the verdict and the exit code; atomic,
private writes.

Every tenant-supplied string is cleaned of escape sequences (``safety.clean_text``) and then escaped
for the surface: HTML with ``html.escape``, Markdown by backslash-escaping its punctuation. Links are
printed only when ``safety.is_allowed_link`` accepts them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dex_tui import TOOL_NAME, __version__
from dex_tui.answers import Answers
from dex_tui.catalogue import ALL_CHECK_IDS
from dex_tui.checks import SERVICE_NAMES
from dex_tui.errors import ExitCode, UsageError
from dex_tui.facts import TenantFacts
from dex_tui.results import CheckResult, Group, Severity, Status
from dex_tui.safety import clean_text

SCHEMA_VERSION = 1
FORMATS = ("text", "json", "markdown", "html")
EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md", "html": "html"}
VERDICTS = {ExitCode.READY: "ready", ExitCode.WARNINGS: "warnings", ExitCode.BLOCKER: "blocked",
            ExitCode.CANNOT_EVALUATE: "cannot_evaluate"}
VERDICT_TEXT = {
    "ready": "Ready: every required check passed.",
    "warnings": "Ready with warnings: nothing blocks, but some checks need attention or a confirmation.",
    "blocked": "Not ready: at least one required check failed.",
    "cannot_evaluate": "Could not evaluate: a required check could not be read (sign-in, permission or network).",
}
STATUS_ORDER = ("pass", "warn", "fail", "unknown", "skipped", "info")
GROUP_TITLES = {"required": "Required", "coverage": "Coverage", "information": "Information"}


# ------------------------------------------------------------------------------------ verdict


def exit_code_for(results: Iterable[CheckResult]) -> ExitCode:
    """0 ready; 1 warnings only; 2 a blocker failed; 3 a blocker could not be evaluated.

    A blocker that failed outweighs one that could not be read (what is known to be wrong comes
    first). A warning, or a failed or unknown check of severity ``recommended``, gives 1. Checks of
    severity ``info`` never change the exit code; pass, info and skipped statuses give 0.
    """
    results = list(results)
    blockers = [r for r in results if r.severity is Severity.BLOCKER]
    if any(r.status is Status.FAIL for r in blockers):
        return ExitCode.BLOCKER
    if any(r.status is Status.UNKNOWN for r in blockers):
        return ExitCode.CANNOT_EVALUATE
    if any(r.status in (Status.WARN, Status.FAIL, Status.UNKNOWN) for r in results
           if r.severity is not Severity.INFO):
        return ExitCode.WARNINGS
    return ExitCode.READY


def verdict_for(results: Iterable[CheckResult]) -> str:
    return VERDICTS[exit_code_for(results)]


def summarize(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {status: sum(1 for r in results if r.status.value == status) for status in STATUS_ORDER}
    counts["total"] = len(results)
    counts["blockers_failed"] = sum(1 for r in results if r.severity is Severity.BLOCKER and r.status is Status.FAIL)
    counts["blockers_unknown"] = sum(1 for r in results
                                     if r.severity is Severity.BLOCKER and r.status is Status.UNKNOWN)
    return counts


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")



class SignedInIdentity(Protocol):
    """Who signed in, as the report reads it: a person (``auth.SignedIn``) or an application
    (``app_signin.AppSignedIn``)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def username(self) -> str: ...


def build_report(results: Sequence[CheckResult], facts: TenantFacts, answers: Answers, service: str | None = None,
                 *, demo: str | None = None, signed_in: SignedInIdentity | None = None, generated_at: str | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the README, "Report schema").

    ``signed_in`` (a ``dex_tui.auth.SignedIn``) fills the tenant id and operator when the Graph reads
    that name them failed.
    """
    service = service or answers.service
    org = facts.get("organization")
    me = facts.get("me")
    member_of = facts.get("member_of")
    cloud = facts.cloud
    tenant = {
        "id": (org.id if org else "") or ((signed_in.tenant_id if signed_in else "") or ""),
        "name": clean_text(org.display_name) if org else "",
        "default_domain": clean_text(org.default_domain) if org else "",
        "country": org.country_letter_code if org else None,
        "cloud": cloud.name,
        "cloud_label": cloud.label,
        "cloud_detected": cloud.detected,
        "cloud_note": clean_text(cloud.source, 400),
    }
    operator = {
        "display_name": clean_text(me.display_name if me else (signed_in.display_name if signed_in else "") or ""),
        "user_principal_name": clean_text(me.user_principal_name if me else (signed_in.username if signed_in else "") or ""),
        "roles": sorted(clean_text(r.display_name or r.template_id) for r in member_of.roles) if member_of else [],
    }
    checks = [r.to_dict() for r in sorted(results, key=lambda r: ALL_CHECK_IDS.index(r.id))]
    code = exit_code_for(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "generated_at": generated_at or _now(),
        "demo": demo,
        "tenant": tenant,
        "service": service,
        "service_name": SERVICE_NAMES[service],
        "operator": operator,
        "answers": answers.to_dict(),
        "verdict": VERDICTS[code],
        "verdict_text": VERDICT_TEXT[VERDICTS[code]],
        "exit_code": int(code),
        "summary": summarize(results),
        "checks": checks,
        "reads": [r.to_dict() for r in facts.reads.values()],
        "requests": facts.requests,
    }


# ------------------------------------------------------------------------------------ rendering


def render(report: Mapping[str, Any], fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """The report in ``fmt``; ``width`` (text only) wraps long lines for a terminal that wide."""
    if fmt == "json":
        return render_json(report)
    # Each view's module is imported only when that view is asked for.
    if fmt == "markdown":
        from dex_tui.report_markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from dex_tui.report_html import render_html

        return render_html(report)
    if fmt == "text":
        from dex_tui.report_text import render_text

        return render_text(report, color=color, width=width)
    raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}.")


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _groups(report: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(group.value, [c for c in report["checks"] if c["group"] == group.value]) for group in Group]


def _evidence_lines(evidence: Any, indent: str = "") -> list[tuple[str, str]]:
    """Flatten evidence into (label, value) pairs of plain text (escaping is the caller's job)."""
    pairs: list[tuple[str, str]] = []
    if not isinstance(evidence, dict):
        return [("", _plain(evidence))]
    for key, value in evidence.items():
        label = f"{indent}{key.replace('_', ' ')}"
        if isinstance(value, dict) and value:
            pairs.append((label, ""))
            pairs.extend(_evidence_lines(value, indent + "  "))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            pairs.append((label, ""))
            for item in value:
                pairs.append((indent + "  -", ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in item.items())))
        else:
            pairs.append((label, _plain(value)))
    return pairs


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return clean_text(value, 2000)


# -- "Changes since DATE" (drift against a previous report, dex_tui.drift), at the top of every view --


# -- acknowledgements that expire (dex_tui.acknowledgements): a mark on the check, and a section --


def _ack_mark(check: Mapping[str, Any]) -> str:
    ack = check.get("acknowledgement")
    if not isinstance(ack, dict):
        return ""
    if ack["state"] == "active":
        return f"[acknowledged until {clean_text(ack['expires'], 20)}] " if ack["expires"] else "[acknowledged] "
    if ack["state"] == "expired":
        return f"[acknowledgement expired on {clean_text(ack['expires'], 20)}] "
    return ""


def _ack_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(check id, plain text) per acknowledged check: its state, who, when and why."""
    rows = []
    for outcome in report.get("acknowledgements", []):
        head = {"active": f"acknowledged {outcome['why']}", "expired": f"{outcome['why']}: it counts again",
                "not_applied": f"not applied: {outcome['why']}",
                "not_needed": f"not needed: {outcome['why']}"}.get(outcome["state"], outcome["why"])
        who = "; ".join(f"by {a['by']} on {a['at']}: {a['reason']}" for a in outcome["acknowledgements"])
        rows.append((outcome["check_id"], clean_text(f"{head} ({who})", 2000)))
    return rows


def _changes_heading(report: Mapping[str, Any]) -> str:
    return f"Changes since {clean_text(report['compared_with']['generated_at'], 40)}"


def _changes_counts(report: Mapping[str, Any]) -> str:
    counts = report["compared_with"]["counts"]
    return ", ".join(f"{int(counts.get(name, 0))} {name}" for name in ("regressed", "fixed", "new", "unchanged"))


def _change_status(value: Any) -> str:
    return clean_text(value, 20) if value else "not in the previous report"


def _sentence(text: str) -> str:
    """``text`` ending as a sentence ends (a full stop added unless it has its own punctuation)."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?:" else text + "."


def _remediation(r: Mapping[str, str], escape: Callable[[Any], str], link: Callable[[str, str], str]) -> str:
    """What to do, where and the link, escaped for one format ('' when there is nothing to do), as
    sentences: "Buy it. Where: Billing > Licenses. <link>"."""
    parts = [escape(_sentence(clean_text(r["action"], 2000)))] if r["action"] else []
    if r["where"]:
        parts.append(f"Where: {escape(_sentence(clean_text(r['where'], 2000)))}")
    if r["link"]:
        parts.append(link(r["link"], r["link"]))
    return " ".join(parts)


# ------------------------------------------------------------------------------------ writing


_NOT_FILES = ("/dev/", "/proc/", "/sys/")


def check_output_path(path: Path, option: str = "--output") -> Path:
    """Where a report may go: a regular file, or a new one, in an existing folder this user can write.

    Returns the path to replace, symbolic links resolved (the link's target is replaced, never the link).
    A directory, a device, a pipe, a socket or anything under /dev or /proc is refused (``os.replace``
    would put a report file in place of ``/dev/null`` when run as root), and so is a read-only file.
    Raises UsageError naming ``option`` (an empty ``option``: the wizard's export, which has no
    options, so the message is a plain sentence); nothing is created.
    """
    def said(text: str) -> str:
        return f"{option}: {text}" if option else text[0].upper() + text[1:]

    given = Path(path).expanduser()
    real = Path(os.path.realpath(given))
    shown = repr(str(given))
    if real.is_dir():
        raise UsageError(said(f"{shown} is a directory; give a file name."))
    if str(given).startswith(_NOT_FILES) or str(real).startswith(_NOT_FILES) or (
            real.exists() and not real.is_file()):
        raise UsageError(said(f"{shown} is not a regular file (a device, pipe or system file); a report is "
                              "written only to a regular file."),
                         next_step=f"Use '{option} -' for standard output." if option
                         else "Choose a file name in a folder you can write to.")
    folder = real.parent
    if not folder.is_dir():
        raise UsageError(said(f"the folder {str(folder)!r} does not exist."),
                         next_step="Create it first, or choose another file.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(said(f"the folder {str(folder)!r} is not writable by you."),
                         next_step="Choose a file in a folder you can write to.")
    if real.exists() and not os.access(real, os.W_OK):
        raise UsageError(said(f"{shown} exists and is read-only."),
                         next_step="Choose another file, or make it writable first.")
    return real


def write_text_atomic(path: Path, text: str, option: str = "--output") -> Path:
    """Write ``text`` to ``path`` through a private temporary file and ``os.replace`` (mode 0600); the path
    is checked first (:func:`check_output_path`, whose errors name ``option``)."""
    path = check_output_path(path, option)
    directory = path.parent
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            os.chmod(temp, 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as exc:  # Ctrl+C included: never leave a copy of the report behind
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            cannot = f"cannot write {str(path)!r} ({exc.strerror})."
            raise UsageError(f"{option}: {cannot}" if option else cannot[0].upper() + cannot[1:],
                             next_step="Free some space or choose another file.") from exc
        raise
    return path


def write_report(report: Mapping[str, Any], path: Path, fmt: str | None = None, option: str = "--output") -> Path:
    """Render ``report`` in ``fmt`` (default: from the file extension, else JSON) and write it atomically
    (errors name ``option``; see :func:`check_output_path`)."""
    fmt = fmt or format_for_path(path)
    return write_text_atomic(path, render(report, fmt), option)


def format_for_path(path: Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"json": "json", "md": "markdown", "markdown": "markdown", "html": "html", "htm": "html",
            "txt": "text"}.get(suffix, "json")


def default_filename(report: Mapping[str, Any], fmt: str) -> str:
    """``dex-tui-report-<tenant>-<UTC time>.<ext>``, safe on every file system."""
    tenant = re.sub(r"[^A-Za-z0-9.-]+", "-", report["tenant"].get("default_domain") or report["tenant"]["id"]
                    or "tenant").strip("-") or "tenant"
    stamp = re.sub(r"[^0-9TZ]", "", report["generated_at"])
    return f"{TOOL_NAME}-report-{tenant}-{stamp}.{EXTENSIONS[fmt]}"
