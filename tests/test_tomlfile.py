"""The one TOML reader (dex_tui.tomlfile): each way a file can be bad is one typed error naming the
file (and the line, where there is one), and keys can be pointed at by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dex_tui.errors import InternalError, UsageError
from dex_tui.settings import load_config_file
from dex_tui.tomlfile import TomlFile, load_toml, parse_toml

TEXT = '''# a comment
title = "x"

[behaviour]
latency_ms = 5
device_code.approval = "auto"
notes = """
fake = 1
"""
after = 2

[[step]]
press = "enter"

[[step]]
"quoted key" = 1
wait = { step = "review" }
'''


def test_line_of_keys_tables_arrays_and_dotted_keys(tmp_path: Path) -> None:
    file = parse_toml(TEXT, tmp_path / "w.toml", "walkthrough file")
    assert file.data["behaviour"]["device_code"]["approval"] == "auto"
    assert file.line_of("title") == 2
    assert file.line_of("behaviour") == 4
    assert file.line_of("behaviour.latency_ms") == 5
    assert file.line_of("behaviour.device_code.approval") == 6
    assert file.line_of("behaviour.fake") == 4  # inside a multi-line string: not a key; its table's line
    assert file.line_of("behaviour.after") == 10
    assert file.line_of("step[0].press") == 13
    assert file.line_of("step[1].quoted key") == 16
    assert file.line_of("step[1].wait.step") == 17  # an inline table: the line of its key
    assert file.line_of("nowhere") is None
    assert file.where("behaviour.latency_ms") == f"walkthrough file {str(tmp_path / 'w.toml')!r}, line 5"
    assert file.where() == file.name == f"walkthrough file {str(tmp_path / 'w.toml')!r}"


@pytest.mark.parametrize(("content", "expected"), [
    (b"a = ", "is not valid TOML"),
    (b"a = 1\n[b\nc = 2\n", "line 2 is not valid TOML"),
    (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
])
def test_bad_content_is_one_error_naming_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(UsageError) as caught:
        load_toml(path, "scenario file")
    assert caught.value.explanation.startswith(f"scenario file {str(path)!r}")
    assert expected in caught.value.explanation


def test_missing_unreadable_and_endless_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_toml(tmp_path / "none.toml", "config file")
    with pytest.raises(UsageError, match="cannot be read"):
        load_toml(tmp_path, "config file")  # a directory
    with pytest.raises(UsageError, match=r"'/dev/zero' is larger than 1 KiB; it is not a dex-tui config file\."):
        load_toml(Path("/dev/zero"), "config file", limit=1024, not_a="a dex-tui config file")


def test_the_caller_chooses_the_error_type(tmp_path: Path) -> None:
    path = tmp_path / "shipped.toml"
    path.write_text("x = 1\n[b\n", encoding="utf-8")
    with pytest.raises(InternalError) as caught:
        load_toml(path, "shipped data file", error=lambda text: InternalError(text, next_step="Reinstall."))
    assert caught.value.next_step == "Reinstall." and "line 2" in caught.value.explanation


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(TEXT, encoding="utf-8")
    file = load_toml(path, "walkthrough file")
    assert isinstance(file, TomlFile) and file.text == TEXT and file.data["title"] == "x"


def test_config_file_errors_name_the_line_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('tenant = "contoso.onmicrosoft.com"\n\ncloud = "commercial"\nspeed = "fast"\n', encoding="utf-8")
    with pytest.raises(UsageError, match=rf"config file {str(path)!r}, line 4: unknown setting 'speed'"):
        load_config_file(path)
    path.write_text('tenant = "x"\ncloud = 3\n', encoding="utf-8")
    with pytest.raises(UsageError, match=rf"config file {str(path)!r}, line 2: cloud must be a string"):
        load_config_file(path)


def test_scenario_file_errors_name_the_line_of_the_field(tmp_path: Path) -> None:
    from dex_tui.demo import load_scenario

    path = tmp_path / "mine.toml"
    path.write_text('[scenario]\nextends = "ready"\nname = "mine"\n\n[tenant]\nid = 7\n', encoding="utf-8")
    with pytest.raises(UsageError, match=rf"scenario file {str(path)!r}, line 6: field tenant.id must be a string"):
        load_scenario(str(path))
    path.write_text('[scenario]\nextends = "ready"\nname = "mine"\n\n[behaviour]\nlatency_ms = 0\n'
                    'faults = [\n  { endpoint = "graph.me", kind = "explode" },\n]\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r", line 7: field behaviour\.faults\[0\]\.kind"):
        load_scenario(str(path))
