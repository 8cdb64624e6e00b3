"""Tenant strings are data on every surface: a tenant display name, the operator's name, the Microsoft
Security Experts policy names, the partner tenant's display name and device names carrying Rich/Textual
markup, ANSI and OSC escape sequences, HTML, Markdown and very long values are shown literally, never
break the layout and never become a link. Surfaces: the headless text report and sign-in lines, the
JSON, Markdown and HTML reports, and the wizard (rendered segments, clicks and the detail dialog).
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from dex_tui.demo import FakeCloud, Scenario, load_scenario
from dex_tui.settings import Settings
from screens.app import WizardApp
from screens.textdump import screen_text
from tests.test_secrets_support import assert_no_traceback, record_clouds, run_cli
from tests.test_wizard_support import FROZEN_CLOCK, NOW, wait_for

EVIL = "evil.example.com"
MARKUP = f"[bold red]B[/] [link=https://{EVIL}/rich]L[/link] [@click=app.quit]Q[/]"
ESCAPES = f"\x1b[31mRED\x1b[0m\x1b[2J \x1b]8;;https://{EVIL}/o\x07osc8\x1b]8;;\x07 \x1b]52;c;ZXZp\x07\x07\x00\x9b1m"
HTML = f'<script>alert(1)</script><img src=x onerror=alert(2)><a href="https://{EVIL}/h">H</a>'
MARKDOWN = f"*em* _u_ `code` [md](https://{EVIL}/md) ![i](https://{EVIL}/i) | p | <https://{EVIL}/a> https://{EVIL}/b"
LINES = "line1\nline2\r\n# heading"
LONG = "W" * 5000
# What each field carries (each short enough to be shown whole; LONG is shortened on purpose).
TENANT_NAME = f"Contoso {MARKUP} {ESCAPES} {LINES}"
OPERATOR_NAME = f"Megan {MARKUP} {ESCAPES}"
PARTNER_NAME = f"Microsoft Experts {HTML} {LONG}"
POLICY_NAMES = [f"Microsoft Security Experts-{MARKDOWN}", f"Microsoft Security Experts-{HTML}{ESCAPES}"]
DEVICE_NAME = f"{MARKUP}{HTML}{{n:04}}"


def hostile_scenario(base: str = "ready") -> Scenario:
    """``base`` with every tenant-supplied string the product shows replaced by hostile ones."""
    return load_scenario(base).merged({
        "tenant": {"display_name": TENANT_NAME},
        "operator": {"name": OPERATOR_NAME},
        "experts": {"display_name": PARTNER_NAME, "ca_policy_names": POLICY_NAMES},
        "devices": [{"count": 3, "name": DEVICE_NAME}],
    })


# Bidi controls and invisible format characters (Trojan Source): each field reads as something else.
BIDI_TENANT = "Contoso \u202edtL\u202c"  # shows as "Contoso Ltd"
BIDI_OPERATOR = "Megan\u200b Bowen\u2066\u2069"
BIDI_PARTNER = "Microsoft\u00ad Experts\ufeff"
BIDI_POLICIES = ["Microsoft Security Experts-\u202dA\u202c", "Microsoft Security Experts-\u2067B\u2069\U000e0041"]
BIDI_DEVICE = "pc\u200d\u2028{n:04}"
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e0fff]")


def bidi_scenario(base: str = "ready") -> Scenario:
    """``base`` with bidi and invisible characters in every tenant-supplied string the product shows."""
    return load_scenario(base).merged({
        "tenant": {"display_name": BIDI_TENANT},
        "operator": {"name": BIDI_OPERATOR},
        "experts": {"display_name": BIDI_PARTNER, "ca_policy_names": BIDI_POLICIES},
        "devices": [{"count": 3, "name": BIDI_DEVICE}],
    })


def assert_inert_text(text: str) -> None:
    """No control character a terminal would obey, no bidi or invisible format character, and nothing
    longer than the product's limit."""
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text.replace("\r\n", "\n")), \
        repr(re.search(r".{0,20}[\x00-\x08\x0b-\x1f\x7f-\x9f].{0,20}", text).group(0))
    assert not _INVISIBLE.search(text), repr(_INVISIBLE.search(text).group(0))
    assert "W" * 201 not in text, "a very long tenant value was not shortened"


# ------------------------------------------------------------------ headless surfaces


@pytest.fixture
def hostile_run(monkeypatch, capsys):
    """``run(fmt)``: ``dex-tui --demo ready check --format fmt`` on the hostile tenant."""
    record_clouds(monkeypatch, lambda scenario: hostile_scenario())

    def run(*argv: str) -> Any:
        result = run_cli(["--demo", "ready", *argv], capsys)
        assert_no_traceback(result.out, result.err, result.logs)
        return result

    return run


def test_text_report_and_progress_lines(hostile_run) -> None:
    result = hostile_run("check", "--format", "text")
    assert result.code == 1, result.err
    for output in (result.out, result.err):
        assert_inert_text(output)
    out = result.out
    first = out.splitlines()[0]  # one line: the line breaks in the name did not break it
    assert first.startswith(f"Defender Experts for XDR: readiness of Contoso {MARKUP} ␛[31mRED")
    assert "line1 line2" in first and first.endswith("# heading (8c1f4b2e-6a3d-4e5f-9b70-2d4c6e8a0f13)")
    assert f"Microsoft Security Experts-{MARKDOWN} (enabled)" in out
    assert "Microsoft Experts <script>alert(1)</script>" in out and "WWW…" in out
    check_lines = [line for line in out.splitlines() if line.startswith("  ") and line.split()[0].isupper()]
    assert len(check_lines) == 17  # one line per check, whatever the names hold


def test_sign_in_lines(hostile_run) -> None:
    result = hostile_run("signin")
    assert result.code == 0
    assert_inert_text(result.out + result.err)
    assert result.out.startswith(f"Signed in as Megan {MARKUP} ␛[31mRED")
    assert len(result.out.splitlines()) == 3


def test_json_report_keeps_the_strings_as_data(hostile_run) -> None:
    result = hostile_run("check", "--format", "json")
    report = json.loads(result.out)
    assert report["tenant"]["name"].startswith(f"Contoso {MARKUP} ␛[31mRED")
    everything = json.dumps(report, ensure_ascii=False)
    assert_inert_text(everything)
    assert "\\u001b" not in everything and "\\u0007" not in everything


class _Html(HTMLParser):
    """Every tag with its attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _assert_no_active_html(page: str) -> _Html:
    parsed = _Html()
    parsed.feed(page)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "form", "svg", "math"}, tags
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action"):
            assert EVIL not in (attrs.get(name) or ""), (tag, attrs)
    return parsed


def test_html_report(hostile_run, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    result = hostile_run("check", "--output", str(path))
    assert result.code == 1
    page = path.read_text(encoding="utf-8")
    assert_inert_text(page)
    parsed = _assert_no_active_html(page)
    visible = "".join(parsed.text)
    assert f"Contoso {MARKUP} ␛[31mRED" in visible  # shown literally
    assert "Microsoft Experts <script>alert(1)</script><img src=x onerror=alert(2)>" in visible
    assert f"Microsoft Security Experts-{MARKDOWN}" in visible
    hrefs = [attrs.get("href") or "" for tag, attrs in parsed.tags if tag == "a"]
    assert hrefs and all(h.startswith("#") or urlsplit(h).hostname.endswith("microsoft.com") for h in hrefs), hrefs


def test_markdown_report(hostile_run, tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    result = hostile_run("check", "--output", str(path))
    assert result.code == 1
    text = path.read_text(encoding="utf-8")
    assert_inert_text(text)
    # Rendered the way GitHub would (tables, autolinked bare URLs): nothing tenant-made becomes active.
    rendered = MarkdownIt("gfm-like").render(text)
    parsed = _assert_no_active_html(rendered)
    visible = "".join(parsed.text)
    assert "Microsoft Experts <script>alert(1)</script><img src=x onerror=alert(2)>" in visible
    assert f"Contoso {MARKUP}" in visible
    assert "*em* _u_ `code` [md](https" in visible  # the punctuation survives as text
    for line in text.splitlines():  # every table row keeps its four columns
        if re.match(r"^\| \w+ \| `", line):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line
    assert not re.search(r"^#+ .*heading", text, re.M)


# ------------------------------------------------------------------ the wizard


def _segments(app: WizardApp) -> list[Any]:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return list(console.render(update))


def _assert_screen_inert(app: WizardApp) -> str:
    segments = _segments(app)
    for segment in segments:
        if segment.control:  # the screen's own cursor moves, not content
            continue
        assert "\x1b" not in segment.text and "\x07" not in segment.text, repr(segment.text)
        link = segment.style.link if segment.style else None
        assert not link, f"a link on screen: {link!r} in {segment.text!r}"
        meta = segment.style.meta if segment.style else {}
        assert "quit" not in str(meta.get("@click", "")), meta
    text = screen_text(app)
    assert_inert_text(text)
    return text


async def test_wizard_shows_hostile_strings_literally_and_opens_nothing(state_dir: Path, monkeypatch) -> None:
    cloud = FakeCloud(hostile_scenario(), sleep=lambda seconds: None)
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), fake_cloud=cloud, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    opened: list[str] = []
    monkeypatch.setattr(WizardApp, "open_url", lambda self, url, new_tab=True: opened.append(url))
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.session is not None, timeout=10)
        await wait_for(pilot, lambda: f"Megan {MARKUP}" in " ".join(screen_text(app).split()))
        _assert_screen_inert(app)
        await pilot.click("#who", offset=(20, 0))  # on the name, where a [link] would be

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility", timeout=5)
        await wait_for(pilot, lambda: not app.checks_running and len(app.results) >= 17, timeout=10)
        await pilot.pause()
        _assert_screen_inert(app)
        table = app.screen.query_one("#checks")
        row = table.get_row_index("access.conditional_access")
        table.move_cursor(row=row)
        await pilot.pause()
        text = " ".join(_assert_screen_inert(app).split())
        assert "Microsoft Security Experts-*em* _u_" in text
        await pilot.press("enter")  # the detail dialog: evidence with every policy name
        await pilot.pause()
        text = " ".join(_assert_screen_inert(app).split())
        assert "Experts-<script>alert(1)</script><img src=x onerror=alert(2)>" in text  # in the dialog
        for size in ((80, 24), (120, 40), (50, 16)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            _assert_screen_inert(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "Next" in screen_text(app)  # the frame is intact: the way on is still there
        await pilot.press("ctrl+c")
    assert app.return_value == 130
    assert not [url for url in opened if EVIL in url]
    saved = (state_dir / "progress" / "demo-ready.json").read_text()
    assert "\x1b" not in saved


# ------------------------------------------------------------------ bidi and invisible characters


@pytest.fixture
def bidi_run(monkeypatch, capsys):
    """``run(argv)``: ``dex-tui --demo ready ARGV`` on the tenant whose strings carry bidi controls."""
    record_clouds(monkeypatch, lambda scenario: bidi_scenario())

    def run(*argv: str) -> Any:
        result = run_cli(["--demo", "ready", *argv], capsys)
        assert_no_traceback(result.out, result.err, result.logs)
        return result

    return run


def test_bidi_and_invisible_characters_are_shown_by_code_point_in_every_report(bidi_run, tmp_path: Path) -> None:
    signin = bidi_run("signin")
    assert_inert_text(signin.out + signin.err)
    assert signin.out.startswith("Signed in as Megan⟨U+200B⟩ Bowen⟨U+2066⟩⟨U+2069⟩ <")
    text = bidi_run("check", "--format", "text")
    assert_inert_text(text.out + text.err)
    assert text.out.startswith("Defender Experts for XDR: readiness of Contoso ⟨U+202E⟩dtL⟨U+202C⟩")
    assert "Microsoft Security Experts-⟨U+2067⟩B⟨U+2069⟩⟨U+E0041⟩" in text.out
    report = json.loads(bidi_run("check", "--format", "json").out)
    everything = json.dumps(report, ensure_ascii=False)
    assert_inert_text(everything)
    assert "\\u202e" not in json.dumps(report)  # not even escaped: the JSON holds what is shown
    assert report["tenant"]["name"] == "Contoso ⟨U+202E⟩dtL⟨U+202C⟩"
    for suffix in ("md", "html"):
        path = tmp_path / f"report.{suffix}"
        bidi_run("check", "--output", str(path))
        page = path.read_text(encoding="utf-8")
        assert_inert_text(page)
        assert "Contoso ⟨U+202E⟩dtL⟨U+202C⟩" in page and "Microsoft⟨U+00AD⟩ Experts⟨U+FEFF⟩" in page


async def test_wizard_shows_bidi_and_invisible_characters_by_code_point(state_dir: Path) -> None:
    cloud = FakeCloud(bidi_scenario(), sleep=lambda seconds: None)
    app = WizardApp(Settings(demo="ready", state_dir=state_dir), fake_cloud=cloud, clock=lambda: FROZEN_CLOCK,
                    now_iso=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "Megan⟨U+200B⟩ Bowen⟨U+2066⟩⟨U+2069⟩" in screen_text(app), timeout=10)
        _assert_screen_inert(app)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: getattr(app.screen, "STEP_ID", "") == "eligibility", timeout=5)
        await wait_for(pilot, lambda: not app.checks_running and len(app.results) >= 17, timeout=10)
        table = app.screen.query_one("#checks")
        table.move_cursor(row=table.get_row_index("access.conditional_access"))
        await pilot.press("enter")  # the detail dialog names every policy
        await wait_for(pilot, lambda: "Experts-⟨U+2067⟩B⟨U+2069⟩" in screen_text(app))
        _assert_screen_inert(app)
        await pilot.press("escape")
        await pilot.press("ctrl+c")
    assert app.return_value == 130
