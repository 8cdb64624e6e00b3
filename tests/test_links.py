"""Links the product opens or prints come only from the allowlist of Microsoft hosts plus the configured
endpoints (dex_tui.safety): every link in the shipped assets, every link in every report format and in
the CLI's output, the device-code address an identity provider sends, and the wizard's open_url path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dex_tui.assets import asset_path
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.safety import endpoint_hosts, is_allowed_link
from dex_tui.settings import DEMO_GRAPH_URL, DEMO_LOGIN_URL, DEMO_MDE_URL, Settings
from screens.app import WizardApp
from screens.dialogs import ErrorDialog, LinkDialog
from screens.textdump import screen_text
from tests.test_secrets_support import assert_no_traceback, record_clouds, run_cli
from tests.test_wizard_support import FROZEN_CLOCK, NOW, make_app, record_browser, shown, wait_for

URL = re.compile(r"https?://[^\s\"'<>)\]|`\\]+")
DEMO_HOSTS = endpoint_hosts(DEMO_LOGIN_URL, DEMO_GRAPH_URL, DEMO_MDE_URL)
EVIL = "https://evil.example.com/devicelogin"


def _urls(text: str) -> list[str]:
    return [url.rstrip(".,;:") for url in URL.findall(text)]


def _assert_allowed(urls: list[str], extra: tuple[str, ...] = ()) -> None:
    refused = sorted({url for url in urls if not is_allowed_link(url, extra)})
    assert not refused, f"links off the allowlist: {refused}"


def test_every_link_in_the_shipped_assets_is_allowed() -> None:
    """What the wizard can open (step links, help, terms, remediation, sources) all comes from here."""
    found: list[str] = []
    for path in sorted(Path(asset_path()).rglob("*")):
        if path.suffix in (".toml", ".md") and "scenarios" not in path.parts:
            found += _urls(path.read_text(encoding="utf-8"))
    assert len(found) > 10
    _assert_allowed(found)


@pytest.mark.parametrize("scenario", ["ready", "fresh", "gcc-high", "not-admin"])
def test_report_and_cli_links_are_allowed_in_every_format(monkeypatch, capsys, tmp_path: Path,
                                                          scenario: str) -> None:
    record_clouds(monkeypatch)
    seen: list[str] = []
    for fmt, ext in (("text", "txt"), ("json", "json"), ("markdown", "md"), ("html", "html")):
        printed = run_cli(["--demo", scenario, "check", "--format", fmt], capsys)
        written = run_cli(["--demo", scenario, "check", "--output", str(tmp_path / f"r.{ext}")], capsys)
        for result in (printed, written):
            assert result.code in (0, 1, 2), result.err
            assert_no_traceback(result.out, result.err)
        seen += _urls(printed.out) + _urls(printed.err) + _urls(written.err)
        seen += _urls((tmp_path / f"r.{ext}").read_text(encoding="utf-8"))
    assert any("learn.microsoft.com" in url for url in seen)
    # Microsoft hosts, plus the demo's configured login host (the device sign-in page) on stderr only.
    _assert_allowed(seen, DEMO_HOSTS)
    report_links = _urls((tmp_path / "r.html").read_text(encoding="utf-8"))
    _assert_allowed(report_links)


def test_html_links_are_only_allowed_ones(monkeypatch, capsys, tmp_path: Path) -> None:
    record_clouds(monkeypatch)
    out = tmp_path / "report.html"
    assert run_cli(["--demo", "fresh", "check", "--output", str(out)], capsys).code == 2
    hrefs = re.findall(r'href="([^"]*)"', out.read_text(encoding="utf-8"))
    external = [h for h in hrefs if not h.startswith("#")]
    assert external
    _assert_allowed(external)
    assert all('rel="noopener noreferrer"' in tag for tag in re.findall(r"<a [^>]*https[^>]*>",
                                                                       out.read_text(encoding="utf-8")))


def test_cli_never_prints_a_device_code_address_off_the_allowlist(monkeypatch, capsys) -> None:
    recorder = record_clouds(monkeypatch, lambda s: s.with_knobs(device_code={"verification_uri": EVIL}))
    result = run_cli(["--demo", "ready", "signin"], capsys)
    assert result.code == 0
    assert recorder.cloud.issued_secrets()
    assert "evil.example.com" not in result.out + result.err
    assert "DEMO-4821" in result.err and "not on the allowlist" in result.err
    _assert_allowed(_urls(result.out + result.err), DEMO_HOSTS)


def test_cli_prints_the_configured_login_host_and_microsoft_hosts(monkeypatch, capsys) -> None:
    record_clouds(monkeypatch, lambda s: s.with_knobs(
        device_code={"verification_uri": "https://microsoft.com/devicelogin"}))
    result = run_cli(["--demo", "ready", "signin"], capsys)
    assert "open https://microsoft.com/devicelogin in a browser" in result.err


async def test_wizard_hides_and_never_opens_a_device_code_address_off_the_allowlist(state_dir: Path,
                                                                                    monkeypatch) -> None:
    opened = record_browser(monkeypatch)
    scenario = load_scenario("fresh").with_knobs(device_code={"verification_uri": EVIL, "approval": "on_demand"})
    app = WizardApp(Settings(demo="fresh", state_dir=state_dir), fake_cloud=FakeCloud(scenario), browser=True,
                    clock=lambda: FROZEN_CLOCK, now_iso=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "D E M O" in screen_text(app))
        text = " ".join(screen_text(app).split())
        assert "evil.example.com" not in text and "not on the allowlist" in text
        await pilot.press("o")
        await pilot.pause()
        app.open_url(EVIL)  # the one door every link goes through refuses it too
        await wait_for(pilot, lambda: shown(app, ErrorDialog))
        assert "Link refused" in screen_text(app)
    assert opened == []


LINKS = [
    ("https://security.microsoft.com/securitysettings/defender/defenderexperts", True),
    ("https://learn.microsoft.com/defender-xdr/", True),
    ("https://graph.contoso-proxy.example/v1.0", True),  # a configured endpoint (--graph-url)
    ("http://security.microsoft.com/", False),
    ("https://security.microsoft.com.evil.example.com/", False),
    ("https://security.microsoft.com@evil.example.com/", False),
    ("https://evil.example.com/?u=https://security.microsoft.com", False),
    ("javascript:alert(1)", False),
    ("https://security.microsoft.com/\x1b]8;;https://evil.example.com\x07", False),
    ("file:///etc/passwd", False),
]


async def test_wizard_open_url_opens_only_allowed_links(state_dir: Path, monkeypatch) -> None:
    """On a local desktop (browser allowed), the one door every link goes through."""
    opened = record_browser(monkeypatch)
    settings = Settings(graph_url="https://graph.contoso-proxy.example", state_dir=state_dir, token_cache="memory")
    app = WizardApp(settings, browser=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for url, allowed in LINKS:
            before = len(opened)
            app.open_url(url)
            await pilot.pause()
            if allowed:
                await wait_for(pilot, lambda count=before + 1: len(opened) == count)
                assert opened[-1] == url
            else:
                await wait_for(pilot, lambda: shown(app, ErrorDialog))
                assert "Link refused" in screen_text(app) and len(opened) == before, url
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, ErrorDialog))
    assert opened == [url for url, allowed in LINKS if allowed]


async def test_wizard_step_links_go_through_the_allowlist_and_never_start_a_browser_in_demo(
        state_dir: Path, monkeypatch) -> None:
    """Demo mode never starts a browser: an allowed link is shown to copy; the terms link is one."""
    opened = record_browser(monkeypatch)
    app = make_app(state_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_url("https://security.microsoft.com/")
        await wait_for(pilot, lambda: shown(app, LinkDialog))
        assert "Demo mode never starts a browser" in " ".join(screen_text(app).split())
    assert opened == []
