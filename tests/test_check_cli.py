"""``dex-tui check`` end to end on the fake cloud: statuses and exit code for every scenario, the answers
file, output formats and files, progress on stderr, sign-in failures."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dex_tui import engine
from dex_tui.catalogue import check_ids_for
from dex_tui.cli import run
from dex_tui.commands.check import choose_format

ROOT = Path(__file__).resolve().parent.parent

ANSWERS = """\
service = "xdr"

[terms]
by = "admin@contoso.onmicrosoft.com"
at = "2025-06-02T09:10:00Z"

[license]
by = "admin@contoso.onmicrosoft.com"
at = 2025-06-02T09:12:00Z

[roles]
security_reader = true
security_operator = true
security_administrator = true
"""

INFO = {"coverage.iot", "experts.credits", "data.residency", "hunting.sample_notification"}
STANDALONE = {"license.mdi": "info", "license.mdca": "info"}  # scenarios without an E5 bundle
UNCONFIRMED = {"experts.terms": "unknown", "experts.license": "unknown", "experts.roles": "unknown"}
NO_ACCESS = {"access.service_provider": "fail", "access.conditional_access": "fail"}


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry-After and backoff waits are recorded, not slept."""
    sleeps: list[float] = []
    original = engine.client_for
    monkeypatch.setattr(engine, "client_for", lambda runtime, **kw: original(runtime, sleep=sleeps.append, **kw))
    return sleeps


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    data = json.loads(out) if out and "--format" in args and args[args.index("--format") + 1] == "json" else out
    return code, data, err


def answers_file(tmp_path: Path, text: str = ANSWERS) -> str:
    path = tmp_path / "answers.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def non_passing(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"] if c["status"] != "pass" and c["id"] not in INFO}


@pytest.mark.parametrize(("scenario", "service", "expected", "code"), [
    ("ready", "xdr", UNCONFIRMED, 1),
    ("throttled", "xdr", UNCONFIRMED, 1),
    ("fresh", "xdr", {**UNCONFIRMED, **NO_ACCESS}, 2),
    ("missing-entra-p1", "xdr", {**UNCONFIRMED, **NO_ACCESS, **STANDALONE, "license.entra_p1": "fail"}, 2),
    ("passive-av", "xdr", {**UNCONFIRMED, "devices.av_mode": "warn"}, 1),
    ("large", "xdr", {**UNCONFIRMED, "devices.av_mode": "warn"}, 1),
    ("no-devices", "xdr", {**UNCONFIRMED, **NO_ACCESS, "devices.onboarded": "fail", "devices.av_mode": "fail"}, 2),
    ("not-admin", "xdr", {**UNCONFIRMED, **NO_ACCESS, "operator.roles": "warn"}, 2),
    ("gcc", "xdr", {**UNCONFIRMED, **NO_ACCESS, **STANDALONE, "cloud.availability": "fail"}, 2),
    ("gcc", "hunting", {**STANDALONE, "experts.terms": "unknown", "experts.license": "unknown", "license.entra_p1": "skipped",
                        "experts.roles": "skipped", "access.service_provider": "skipped",
                        "access.conditional_access": "skipped"}, 1),
    ("gcc-high", "xdr", {**UNCONFIRMED, **NO_ACCESS, **STANDALONE, "license.mdo_p2": "info",
                          "cloud.availability": "fail"}, 2),
    ("gcc-high", "hunting", {**STANDALONE, "license.mdo_p2": "info", "experts.terms": "unknown", "experts.license": "unknown", "license.entra_p1": "skipped",
                             "experts.roles": "skipped", "access.service_provider": "skipped",
                             "access.conditional_access": "skipped", "cloud.availability": "fail"}, 2),
])
def test_every_scenario_gives_the_right_statuses_and_exit_code(capsys, scenario, service, expected, code) -> None:
    exit_code, report, err = check(capsys, "--demo", scenario, "check", "--service", service, "--format", "json")
    assert non_passing(report) == expected
    assert exit_code == code == report["exit_code"]
    assert [c["id"] for c in report["checks"]][0] == "cloud.availability"
    total = len(check_ids_for(service))  # 17 for XDR; Hunting adds its sample notification check
    assert err.count(f"/{total}]") == total == len(report["checks"]), "one progress line per check on stderr"


def test_ready_with_the_operator_confirmations_is_ready(capsys, tmp_path: Path) -> None:
    code, report, _ = check(capsys, "--demo", "ready", "check", "--answers", answers_file(tmp_path), "--format", "json")
    assert code == 0 and report["verdict"] == "ready" and non_passing(report) == {}
    terms = next(c for c in report["checks"] if c["id"] == "experts.terms")
    assert terms["evidence"]["confirmed_by"] == "admin@contoso.onmicrosoft.com"
    assert report["answers"]["license"]["at"] == "2025-06-02T09:12:00Z"


def test_skipped_security_operator_is_a_warning_naming_lost_actions(capsys, tmp_path: Path) -> None:
    text = ANSWERS.replace("security_operator = true", "security_operator = false") + (
        '\n[acknowledgements.skip_security_operator]\nby = "admin@contoso.onmicrosoft.com"\n'
        'at = "2025-06-02T09:20:00Z"\n')
    code, report, _ = check(capsys, "--demo", "ready", "check", "--answers", answers_file(tmp_path, text),
                            "--format", "json")
    roles = next(c for c in report["checks"] if c["id"] == "experts.roles")
    assert code == 1 and roles["status"] == "warn"
    assert "Isolate a device" in roles["summary"] and "Soft-delete emails" in roles["summary"]


def test_large_tenant_counts_without_listing_users(capsys) -> None:
    code, report, _ = check(capsys, "--demo", "large", "check", "--format", "json")
    reads = {r["name"]: r for r in report["reads"]}
    assert reads["user_count"]["requests"] == 1
    # Devices counted by advanced hunting; only the 2,000 not in active mode are listed (one page).
    assert reads["machines"]["requests"] == 1 and reads["av_info"]["requests"] == 2
    assert report["requests"] <= 20
    entra = next(c for c in report["checks"] if c["id"] == "license.entra_p1")
    assert entra["evidence"]["users_needing_p1"] == 193_800 and entra["status"] == "pass"
    av = next(c for c in report["checks"] if c["id"] == "devices.av_mode")
    assert av["status"] == "warn" and av["evidence"]["by_mode"]["passive"] == 2_000


def test_device_code_blocked_by_conditional_access_exits_3(capsys) -> None:
    code, out, err = check(capsys, "--demo", "ca-blocks-device-code", "check", "--format", "json")
    assert code == 3 and out == "" and "AADSTS53003" in err


def test_no_interactive_without_a_remembered_sign_in_exits_3(capsys) -> None:
    code, out, err = check(capsys, "--demo", "ready", "check", "--no-interactive", "--format", "json")
    assert code == 3 and out == "" and "--no-interactive" in err


@pytest.mark.parametrize(("fmt", "marker"), [("markdown", "# Defender Experts for XDR"),
                                             ("html", "<!DOCTYPE html>"), ("text", "Verdict:")])
def test_formats_on_stdout(capsys, fmt: str, marker: str) -> None:
    code, out, _ = check(capsys, "--demo", "ready", "check", "--format", fmt)
    assert code == 1 and marker in out and "access.service_provider" in out


def test_output_file_is_private_and_its_format_follows_the_extension(capsys, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = check(capsys, "--demo", "fresh", "check", "--output", str(target))
    assert code == 2 and out == "" and "Report written to" in err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_answers_file_is_a_usage_error(capsys, tmp_path: Path) -> None:
    code, out, err = check(capsys, "--demo", "ready", "check", "--answers",
                           answers_file(tmp_path, 'service = "xdr"\n[roles]\nsecurity_reader = false\n'))
    assert code == 4 and "security_reader" in err
    code, _, err = check(capsys, "--demo", "ready", "check", "--answers", str(tmp_path / "missing.toml"))
    assert code == 4 and "does not exist" in err


def test_bad_options_are_usage_errors(capsys, tmp_path: Path) -> None:
    assert check(capsys, "--demo", "ready", "check", "--format", "pdf")[0] == 4
    assert check(capsys, "--demo", "ready", "check", "--service", "soc")[0] == 4
    assert check(capsys, "--demo", "ready", "check", "--output", str(tmp_path))[0] == 4
    assert check(capsys, "--demo", "ready", "check", "--output", str(tmp_path / "nowhere" / "r.json"))[0] == 4


def test_default_format() -> None:
    assert choose_format(None, None, True) == "text"
    assert choose_format(None, None, False) == "json"
    assert choose_format(None, Path("r.md"), True) == "markdown"
    assert choose_format("json", Path("r.md"), True) == "json"


def test_no_token_reaches_stdout_or_stderr(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import dex_tui.demo as demo

    clouds: list[demo.FakeCloud] = []

    class Recording(demo.FakeCloud):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            clouds.append(self)

    monkeypatch.setattr(demo, "FakeCloud", Recording)
    code = run(["--demo", "ready", "check", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1 and len(clouds) == 1
    secrets = clouds[0].issued_secrets()
    assert secrets, "the fake issued tokens"
    for secret in secrets:
        assert secret not in out and secret not in err


@pytest.mark.slow
def test_check_runs_as_a_real_process_and_never_imports_textual() -> None:
    probe = ("import sys; from dex_tui.cli import run; code = run(['--demo', 'fresh', 'check', '--format', 'json']);"
             "sys.exit(99 if 'textual' in sys.modules else code)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert json.loads(result.stdout)["verdict"] == "blocked"


# -- --output is checked before anything else (issue 13 item 3, issue 14 item 8) -----------------------

@pytest.fixture
def count_sign_ins(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    import dex_tui.headless_signin as headless

    calls: list[object] = []
    original = headless.headless_sign_in
    monkeypatch.setattr(headless, "headless_sign_in", lambda *a, **k: calls.append(a) or original(*a, **k))
    return calls


@pytest.mark.parametrize(("target", "fragment"), [
    ("{tmp}/nonexistent/dir/r.json", "does not exist"),
    ("{tmp}", "is a directory"),
    ("/dev/null", "is not a regular file"),
    ("/dev/stdout", "is not a regular file"),
    ("{tmp}/fifo", "is not a regular file"),
    ("{tmp}/link-to-null", "is not a regular file"),
    ("{tmp}/read-only/r.json", "is not writable"),
    ("{tmp}/locked.json", "read-only"),
])
def test_a_bad_output_is_refused_before_sign_in(capsys, tmp_path: Path, count_sign_ins: list[object],
                                                target: str, fragment: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link-to-null").symlink_to("/dev/null")
    (tmp_path / "read-only").mkdir(mode=0o500)
    (tmp_path / "locked.json").write_text("{}")
    (tmp_path / "locked.json").chmod(0o400)
    if os.geteuid() == 0 and fragment in ("is not writable", "read-only"):
        pytest.skip("root can write anywhere")
    null_before = os.stat("/dev/null")
    code, out, err = check(capsys, "--demo", "ready", "check", "--output", target.format(tmp=tmp_path))
    assert code == 4 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("dex-tui: Invalid input: --output: ") and fragment in line, line
    assert count_sign_ins == [], "refused before signing in"
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == null_before.st_rdev


def test_output_dash_writes_the_report_to_stdout(capsys) -> None:
    code, report, err = check(capsys, "--demo", "fresh", "check", "--output", "-", "--format", "json")
    assert code == 2 and report["verdict"] == "blocked" and "Report written" not in err
    assert not Path("-").exists()


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(capsys, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    (tmp_path / "link.json").symlink_to(real)
    code, _, err = check(capsys, "--demo", "fresh", "check", "--output", str(tmp_path / "link.json"))
    assert code == 2 and f"Report written to {real}" in err
    assert (tmp_path / "link.json").is_symlink() and json.loads(real.read_text())["verdict"] == "blocked"


def test_a_report_that_cannot_be_written_at_the_end_goes_to_stdout(capsys, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import dex_tui.report as report_module

    def full_disk(path: Path, text: str) -> Path:
        raise report_module.UsageError(f"--output: cannot write {str(path)!r} (No space left on device).")

    monkeypatch.setattr(report_module, "write_text_atomic", full_disk)
    code, out, err = check(capsys, "--demo", "fresh", "check", "--output", str(tmp_path / "r.json"))
    assert code == 4 and "No space left on device" in err and "follows on standard output" in err
    assert json.loads(out)["verdict"] == "blocked"


def test_demo_reports_are_stamped_with_the_scenario_clock(capsys) -> None:
    from dex_tui.demo import load_scenario

    _, first, _ = check(capsys, "--demo", "fresh", "check", "--format", "json")
    _, second, _ = check(capsys, "--demo", "fresh", "check", "--format", "json")
    assert first["generated_at"] == second["generated_at"] == load_scenario("fresh").now
    for report in (first, second):  # how long each read took is measured, not a timestamp
        for read in report["reads"]:
            read.pop("seconds")
    assert first == second


# -- a closed pipe keeps the verdict (issue 13 item 4) --------------------------------------------------

@pytest.mark.slow
def test_a_closed_pipe_drops_progress_but_keeps_the_report_and_the_verdict(tmp_path: Path) -> None:
    report = tmp_path / "x.json"
    shell = (f"{sys.executable} -m dex_tui --demo gcc check --output {report} 2>&1 | head -1; "
             "exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith("Demo mode:") and len(result.stdout.splitlines()) == 1
    assert json.loads(report.read_text())["verdict"] == "blocked"
    # The reader is gone before the first line: every line is dropped, nothing else changes.
    report.unlink()
    child = subprocess.Popen([sys.executable, "-m", "dex_tui", "--demo", "gcc", "check", "--output", str(report)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    child.stdout.close()
    child.stderr.close()
    assert child.wait(timeout=120) == 2
    assert json.loads(report.read_text())["verdict"] == "blocked"


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--demo", "signin"], ["--demo", "fresh", "check", "--format", "text"],
                                  ["--help"]])
def test_a_closed_stdout_is_no_traceback_and_no_other_exit_code(argv: list[str]) -> None:
    child = subprocess.Popen([sys.executable, "-m", "dex_tui", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)
    child.stdout.close()
    err = child.stderr.read()
    code = child.wait(timeout=120)
    assert code == {"signin": 0, "check": 2, "--help": 0}[next(a for a in argv if a in ("signin", "check", "--help"))]
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err
