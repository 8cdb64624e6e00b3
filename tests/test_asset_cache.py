"""Shipped TOML files parsed once per content: the JSON cache is used only when it is exactly right."""

from __future__ import annotations

import datetime
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dex_tui.asset_cache import _entry, cached_parse
from dex_tui.assets import load_toml_asset


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Parser:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.calls = raw, 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return tomllib.loads(self.raw.decode())


def test_the_second_read_comes_from_the_cache_and_other_bytes_are_parsed_again(tmp_path: Path) -> None:
    path, raw = tmp_path / "data.toml", b'a = 1\n[b]\nc = ["x", 2.5, true]\n'
    parse = Parser(raw)
    first = cached_parse(path, raw, parse)
    assert cached_parse(path, raw, parse) == first == {"a": 1, "b": {"c": ["x", 2.5, True]}}
    assert parse.calls == 1
    edited = Parser(b"a = 2\n")
    assert cached_parse(path, edited.raw, edited) == {"a": 2}
    assert edited.calls == 1


@pytest.mark.parametrize("damage", ["bad json", "a list", "open to others"])
def test_a_damaged_or_foreign_entry_is_not_used(tmp_path: Path, damage: str) -> None:
    path, raw = tmp_path / "data.toml", b"a = 1\n"
    cached_parse(path, raw, Parser(raw))
    folder, name = _entry(path.stem, raw)
    entry = folder / name
    if damage == "bad json":
        entry.write_text("{not json")
    elif damage == "a list":
        entry.write_text("[1]")
    else:
        entry.write_text('{"a": 666}')
        os.chmod(entry, 0o666)
    parse = Parser(raw)
    assert cached_parse(path, raw, parse) == {"a": 1}
    assert parse.calls == 1


def test_data_json_cannot_keep_is_returned_but_not_cached(tmp_path: Path) -> None:
    path, raw = tmp_path / "data.toml", b"when = 2026-12-01T10:00:00Z\n"
    parse = Parser(raw)
    assert cached_parse(path, raw, parse)["when"] == datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC)
    cached_parse(path, raw, parse)
    assert parse.calls == 2
    folder, name = _entry(path.stem, raw)
    assert not (folder / name).exists()
    assert not [p for p in folder.iterdir() if p.suffix == ".tmp"] if folder.exists() else True


def test_without_a_writable_cache_folder_the_file_is_still_read(cache_home: Path, tmp_path: Path) -> None:
    cache_home.parent.mkdir(parents=True, exist_ok=True)
    cache_home.write_text("a file where the folder should be")
    path, raw = tmp_path / "data.toml", b"a = 1\n"
    parse = Parser(raw)
    assert cached_parse(path, raw, parse) == cached_parse(path, raw, parse) == {"a": 1}
    assert parse.calls == 2


def test_a_shipped_file_reads_the_same_from_the_cache() -> None:
    parsed = load_toml_asset("catalogue.toml")
    assert load_toml_asset("catalogue.toml") == parsed
    with open(Path(__file__).parent.parent / "assets" / "catalogue.toml", "rb") as handle:
        assert tomllib.load(handle) == parsed
