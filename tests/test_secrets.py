"""No secret leaves the process: whole headless flows run against the fake cloud (both transports) with
every logger at DEBUG, then stdout, stderr, the logs and every file written are scanned for every
access token, refresh token, id token and device code the fake issued. The token cache file is
encrypted, and every file holding tenant data is private (0600) even under a permissive umask.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.token_cache import KEYRING_SERVICE, KEYRING_USERNAME
from screens.textdump import screen_text
from tests.test_secrets_support import (
    assert_no_secret,
    assert_no_traceback,
    every_log_at_debug,
    exposed_files,
    files_under,
    mode_of,
    record_clouds,
    run_cli,
    server_args,
    start_server,
    umask,
)
from tests.test_wizard_support import FROZEN_CLOCK, NOW, reach, wait_for


def test_demo_sign_in_prints_only_the_user_code(monkeypatch, capsys) -> None:
    recorder = record_clouds(monkeypatch)
    result = run_cli(["--demo", "ready", "signin"], capsys)
    assert result.code == 0, result.err
    assert "enter the code DEMO-4821" in result.err  # the one thing the operator must see
    assert "Signed in as Megan Bowen" in result.out
    assert_no_secret(recorder.clouds, result.sources())
    assert_no_traceback(result.out, result.err, result.logs)


def test_loopback_sign_in_refresh_and_reuse_leave_no_secret_anywhere(memory_keyring, state_dir: Path,
                                                                     capsys) -> None:
    """Sign in by device code over loopback HTTPS with a keyring, then reuse the cache twice (the short
    token lifetime makes MSAL redeem the refresh token each time), then sign out."""
    server = start_server(load_scenario("ready").with_knobs(token_lifetime=120))
    try:
        args = server_args(server, state_dir)
        with umask(0):
            runs = [run_cli([*args, "signin"], capsys),
                    run_cli([*args, "signin"], capsys),
                    run_cli([*args, "signin", "--no-interactive"], capsys)]
            cache = state_dir / "auth" / "token_cache.bin"
            blob = cache.read_bytes()
            files = files_under(state_dir)
            modes = (mode_of(cache), mode_of(cache.parent), exposed_files(state_dir))
            key = memory_keyring.store[(KEYRING_SERVICE, KEYRING_USERNAME)]
            runs.append(run_cli(["--state-dir", str(state_dir), "signout"], capsys))
    finally:
        server.stop()
    assert [r.code for r in runs] == [0, 0, 0, 0], [r.err for r in runs]
    assert "(device code)" in runs[0].out and "(reused the remembered sign-in)" in runs[2].out
    assert len(server.cloud.tokens.access) >= 3  # the refresh token was really used

    sources: dict[str, str | bytes] = {}
    for number, result in enumerate(runs):
        sources.update({f"run {number} {k}": v for k, v in result.sources().items()})
        assert_no_traceback(result.out, result.err, result.logs)
    sources.update(files)
    assert_no_secret([server.cloud], sources)

    assert modes == (0o600, 0o700, {})
    # Encrypted, not merely absent: the key from the keyring opens it and the refresh token is inside.
    plain = Fernet(key.encode()).decrypt(blob).decode()
    assert any(token in plain for token in server.cloud.tokens.refresh)
    assert b"refresh_token" not in blob.lower() and b"secret" not in blob.lower()


@pytest.mark.parametrize("approval", ["decline", "expire", "ca_block"])
def test_failed_sign_ins_print_no_device_code(monkeypatch, capsys, approval: str) -> None:
    recorder = record_clouds(monkeypatch, lambda s: s.with_knobs(device_code={"approval": approval}))
    result = run_cli(["--demo", "ready", "signin"], capsys)
    assert result.code == 3
    assert_no_secret(recorder.clouds, result.sources(), kinds=("device",))
    assert_no_traceback(result.out, result.err, result.logs)


# ------------------------------------------------------------------ headless checks and reports

JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}")
OPAQUE = re.compile(r"1\.DEMO\.[\w-]{20}|DAQABAAEAAAD-demo-[\w-]{10}|0\.DEMO-AUTH\.[\w-]{10}")


def test_demo_check_in_every_format_leaves_no_secret(monkeypatch, capsys, tmp_path: Path) -> None:
    recorder = record_clouds(monkeypatch, lambda s: s.with_knobs(token_lifetime=120))  # refresh on every read
    runs = [run_cli(["--demo", "fresh", "check", "--format", fmt], capsys) for fmt in ("text", "json")]
    reports = tmp_path / "reports"
    reports.mkdir()
    with umask(0):
        for ext in ("json", "md", "html", "txt"):
            runs.append(run_cli(["--demo", "fresh", "check", "--output", str(reports / f"report.{ext}")], capsys))
    assert [r.code for r in runs] == [2] * 6, [r.err for r in runs]
    assert all(len(cloud.tokens.refresh) >= 1 and len(cloud.tokens.access) > 2 for cloud in recorder.clouds)
    sources: dict[str, str | bytes] = {f"run {n} {k}": v for n, r in enumerate(runs) for k, v in r.sources().items()}
    sources.update(files_under(reports))
    assert_no_secret(recorder.clouds, sources)
    for result in runs:
        assert_no_traceback(result.out, result.err, result.logs)
    assert exposed_files(reports) == {}  # reports hold tenant data: 0600 even under umask 0
    assert sorted(p.name for p in reports.iterdir()) == ["report.html", "report.json", "report.md", "report.txt"]


def test_loopback_check_with_a_keyring_leaves_no_secret(memory_keyring, state_dir: Path, tmp_path: Path,
                                                        monkeypatch, capsys) -> None:
    """A run as against a real tenant: keyring-backed cache, loopback HTTPS, refresh on every read."""
    from tests.test_secrets_support import Transport

    target = Transport("loopback", load_scenario("ready").with_knobs(token_lifetime=120), monkeypatch, state_dir,
                       token_cache="keyring")
    out = tmp_path / "out"
    out.mkdir()
    try:
        with umask(0):
            runs = [run_cli([*target.args, "check", "--output", str(out / "r.html")], capsys),
                    run_cli([*target.args, "check", "--no-interactive", "--format", "markdown"], capsys)]
    finally:
        target.close()
    assert [r.code for r in runs] == [1, 1], [r.err for r in runs]
    assert "(reused the remembered sign-in)" not in runs[1].out  # check prints the report, not the sign-in
    sources: dict[str, str | bytes] = {f"run {n} {k}": v for n, r in enumerate(runs) for k, v in r.sources().items()}
    sources.update(files_under(state_dir, out))
    assert_no_secret([target.cloud], sources)
    assert exposed_files(state_dir) == {} and exposed_files(out) == {}
    assert (state_dir / "auth" / "token_cache.bin").exists()


def test_failed_report_write_is_atomic(monkeypatch, capsys, tmp_path: Path) -> None:
    """A write that fails half-way leaves the previous report intact and no temporary file behind."""
    record_clouds(monkeypatch)
    report = tmp_path / "report.json"
    report.write_text("previous report\n")
    import dex_tui.report

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dex_tui.report.os, "fsync", broken_fsync)
    result = run_cli(["--demo", "ready", "check", "--output", str(report)], capsys)
    assert result.code == 4
    assert "No space left on device" in result.err and str(report) in result.err
    assert report.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert_no_traceback(result.out, result.err, result.logs)


def test_report_write_interrupted_by_ctrl_c_leaves_no_trace(monkeypatch, capsys, tmp_path: Path) -> None:
    """Ctrl+C in the middle of writing the report: exit 130, the previous report intact, no temporary
    file (it would hold tenant data) left behind."""
    record_clouds(monkeypatch)
    report = tmp_path / "report.html"
    report.write_text("previous report\n")
    import dex_tui.report

    def interrupted_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(dex_tui.report.os, "fsync", interrupted_fsync)
    result = run_cli(["--demo", "ready", "check", "--output", str(report)], capsys)
    assert result.code == 130
    assert report.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert_no_traceback(result.out, result.err, result.logs)


# ------------------------------------------------------------------ the wizard


async def _walk_and_export(app: Any, pilot: Any, exports: Path, screens: list[str], *, demo: bool) -> None:
    from tests.test_wizard_walk import (
        accept_terms,
        export_and_finish,
        order_licence,
        set_permissions,
        through_eligibility,
    )

    await through_eligibility(app, pilot)
    screens.append(screen_text(app))
    await accept_terms(app, pilot)
    screens.append(screen_text(app))
    if demo:
        await order_licence(app, pilot)
    else:
        await reach(app, pilot, "license")
        app.screen.query_one("#confirm-license").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.flow.answers.license is not None)
        await pilot.press("ctrl+n")
    await set_permissions(app, pilot, operator=False, administrator=True)
    screens.append(screen_text(app))
    if demo:
        await pilot.press("p")  # Give access in the fake portal
    await wait_for(pilot, lambda: "Both are in place" in screen_text(app), timeout=10)
    await pilot.press("ctrl+n")
    await reach(app, pilot, "review")
    screens.append(screen_text(app))
    app.export_report(str(exports / "report.md"), "markdown")
    app.export_report(str(exports / "report.html"), "html")
    await wait_for(pilot, lambda: len(app.core.exports) == 2, timeout=10)
    screens.append(screen_text(app))
    screens.append(app.export_screenshot())  # what a snapshot test would store
    await export_and_finish(app, pilot, exports / "report.json")


@pytest.mark.parametrize("mode", ["demo", "loopback-keyring"])
async def test_whole_wizard_flow_leaves_no_secret(mode: str, memory_keyring, state_dir: Path, tmp_path: Path,
                                                  monkeypatch, capsys) -> None:
    """Sign in, every step, skip Security operator, export JSON, Markdown and HTML, finish; then scan the
    screens, a screenshot, stdout/stderr, every log, progress, audit trail, reports and the token cache."""
    from dex_tui.settings import Settings
    from screens.app import WizardApp
    from tests.test_secrets_support import Transport

    exports = tmp_path / "exports"
    exports.mkdir()
    clock = {"clock": lambda: FROZEN_CLOCK, "now_iso": lambda: NOW}
    target = None
    if mode == "demo":
        cloud = FakeCloud(load_scenario("fresh").with_knobs(token_lifetime=120), sleep=lambda seconds: None)
        app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=cloud, **clock)
    else:
        target = Transport("loopback", load_scenario("ready").with_knobs(token_lifetime=120), monkeypatch,
                           state_dir, token_cache="keyring")
        cloud = target.cloud
        server = target.server
        settings = Settings(login_url=server.login_url, graph_url=server.graph_url, mde_url=server.mde_url,
                            ca_bundle=Path(server.ca_file), state_dir=state_dir, token_cache="keyring")
        app = WizardApp(settings, browser=False, **clock)
    screens: list[str] = []
    capsys.readouterr()
    try:
        with umask(0), every_log_at_debug() as logs:
            async with app.run_test(size=(80, 24)) as pilot:
                await _walk_and_export(app, pilot, exports, screens, demo=mode == "demo")
    finally:
        if target is not None:
            target.close()
    captured = capsys.readouterr()
    assert app.return_value == 0  # Security operator skipped, acknowledged with a reason: it does not count
    assert sorted(p.name for p in exports.iterdir()) == ["report.html", "report.json", "report.md"]

    sources: dict[str, str | bytes] = {"stdout": captured.out, "stderr": captured.err, "logs": logs.text}
    sources.update({f"screen {n}": text for n, text in enumerate(screens)})
    sources.update(files_under(state_dir, exports))
    snapshots = Path(__file__).parent / "__snapshots__"
    sources.update(files_under(snapshots))
    assert_no_secret([cloud], sources)
    for where, content in files_under(snapshots).items():  # snapshots come from other runs: look for shapes
        text = content.decode("utf-8", "replace")
        assert not JWT.search(text) and not OPAQUE.search(text), where
    assert_no_traceback(captured.out, captured.err, logs.text)

    written = set(files_under(state_dir))
    assert any("/progress/" in p for p in written) and any("/audit/" in p for p in written)
    if mode != "demo":
        assert any(p.endswith("token_cache.bin") for p in written)
    assert exposed_files(state_dir) == {} and exposed_files(exports) == {}
