"""Textual's parsed stylesheets read back from the user's cache: only exactly right, never code."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import textual.css.stylesheet
from textual.app import App
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.widgets import Button

from screens import css_cache
from tests.test_wizard_support import make_app, reach

WIZARD_CSS = Path(__file__).resolve().parent.parent / "screens" / "wizard.tcss"
ORIGINAL = Stylesheet._parse_rules


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(Stylesheet, "_parse_rules", css_cache.cached(ORIGINAL))
    return tmp_path / "cache" / "dex-tui" / css_cache.FOLDER


@pytest.fixture(scope="module")
def variables() -> dict[str, str]:
    return App().get_css_variables()


class Counted:
    """Textual's parser, counting the times it really parses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = textual.css.stylesheet.parse

        def parse(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(textual.css.stylesheet, "parse", parse)


def parsed(css: str, variables: dict[str, str], read_from: tuple[str, str] = ("test", "CSS"),
           default: bool = True) -> Stylesheet:
    sheet = Stylesheet(variables=variables)
    sheet.add_source(css, read_from=read_from, is_default_css=default)
    sheet.parse()
    return sheet


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle")) if folder.is_dir() else []


def test_a_second_start_reads_the_rules_back_instead_of_parsing(monkeypatch: pytest.MonkeyPatch, cache_home: Path,
                                                               variables: dict[str, str]) -> None:
    counted = Counted(monkeypatch)
    first = parsed(Button.DEFAULT_CSS, variables)
    assert counted.calls == 1 and len(entries(cache_home)) == 1
    assert oct(entries(cache_home)[0].stat().st_mode & 0o777) == "0o600"
    second = parsed(Button.DEFAULT_CSS, variables)
    assert counted.calls == 1  # read back, not parsed
    assert css_cache._fingerprint(second.rules) == css_cache._fingerprint(first.rules)
    assert [rule.css for rule in second.rules] == [rule.css for rule in first.rules]


def test_the_wizards_stylesheet_from_the_cache_styles_a_widget_as_parsed(monkeypatch: pytest.MonkeyPatch,
                                                                         variables: dict[str, str]) -> None:
    css = WIZARD_CSS.read_text(encoding="utf-8")
    fresh = css_cache._fingerprint(ORIGINAL(Stylesheet(variables=variables), css, (str(WIZARD_CSS), "")))
    parsed(css, variables, (str(WIZARD_CSS), ""), default=False)
    counted = Counted(monkeypatch)
    again = parsed(css, variables, (str(WIZARD_CSS), ""), default=False)
    assert counted.calls == 0
    assert css_cache._fingerprint(again.rules) == fresh


def test_other_css_another_origin_or_other_theme_variables_are_parsed_afresh(monkeypatch: pytest.MonkeyPatch,
                                                                             cache_home: Path,
                                                                             variables: dict[str, str]) -> None:
    parsed("Static { width: 10; }", variables)
    counted = Counted(monkeypatch)
    parsed("Static { width: 11; }", variables)
    parsed("Static { width: 10; }", variables, ("elsewhere", "CSS"))
    parsed("Static { width: 10; }", {**variables, "primary": "#ff0000"})
    assert counted.calls == 3 and len(entries(cache_home)) == 4


def test_rules_with_errors_are_never_kept_and_still_reported(cache_home: Path, variables: dict[str, str]) -> None:
    for _ in range(2):
        with pytest.raises(StylesheetParseError):
            parsed("Static { width: banana; }", variables)
    assert entries(cache_home) == []


class Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch " + str(Path(os.environ["XDG_CACHE_HOME"]) / "pwned"),)


@pytest.mark.parametrize("payload", [
    pytest.param(lambda: pickle.dumps([Boom()]), id="os.system"),
    pytest.param(lambda: pickle.dumps(getattr), id="getattr"),
    pytest.param(lambda: pickle.dumps(["not", "rules"]), id="not-rules"),
    pytest.param(lambda: b"\x80\x05garbage", id="damaged"),
])
def test_a_hostile_or_damaged_entry_is_refused_and_the_css_parsed(monkeypatch: pytest.MonkeyPatch, cache_home: Path,
                                                                  variables: dict[str, str], payload: Any) -> None:
    parsed(Button.DEFAULT_CSS, variables)
    [entry] = entries(cache_home)
    entry.write_bytes(payload())
    counted = Counted(monkeypatch)
    sheet = parsed(Button.DEFAULT_CSS, variables)
    assert counted.calls == 1 and sheet.rules
    assert not (cache_home.parent.parent / "pwned").exists()
    assert css_cache._load(entry) is not None  # the parse wrote a good entry over it


def test_an_entry_others_could_have_written_is_not_read(monkeypatch: pytest.MonkeyPatch, cache_home: Path,
                                                        variables: dict[str, str]) -> None:
    parsed(Button.DEFAULT_CSS, variables)
    [entry] = entries(cache_home)
    entry.chmod(0o666)
    counted = Counted(monkeypatch)
    parsed(Button.DEFAULT_CSS, variables)
    assert counted.calls == 1


def test_the_unpickler_builds_nothing_outside_textuals_css_model() -> None:
    for module, name in [("os", "system"), ("builtins", "getattr"), ("builtins", "eval"),
                         ("textual.css.stylesheet", "os"), ("textual.css.model", "__builtins__"),
                         ("textual.css.model", "partial")]:
        with pytest.raises(pickle.UnpicklingError):
            css_cache._RulesUnpickler(io.BytesIO(b"")).find_class(module, name)


def test_no_writable_cache_means_the_css_is_parsed_silently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            variables: dict[str, str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    counted = Counted(monkeypatch)
    assert parsed(Button.DEFAULT_CSS, variables).rules
    assert parsed(Button.DEFAULT_CSS, variables).rules
    assert counted.calls == 2


def test_entries_of_another_textual_are_removed_when_a_new_one_is_written(cache_home: Path,
                                                                          variables: dict[str, str]) -> None:
    parsed("Static { width: 10; }", variables)
    stale = cache_home / "0123456789ab-old.pickle"
    stale.write_bytes(b"old")
    parsed("Static { width: 12; }", variables)
    assert not stale.exists() and len(entries(cache_home)) == 2


async def welcome_picture(tmp_path: Path, name: str) -> str:
    app = make_app(tmp_path / name, "ready", no_wait=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(app, pilot, "welcome")
        await pilot.pause()
        return app.export_screenshot()


async def test_the_wizard_looks_the_same_with_its_stylesheets_read_back(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        cache_home: Path) -> None:
    cold = await welcome_picture(tmp_path, "cold")
    assert len(entries(cache_home)) >= 10  # the wizard's, the screens' and the widgets' stylesheets
    counted = Counted(monkeypatch)
    warm = await welcome_picture(tmp_path, "warm")
    assert counted.calls == 0
    monkeypatch.setattr(Stylesheet, "_parse_rules", ORIGINAL)
    assert warm == cold == await welcome_picture(tmp_path, "parsed")
