"""Tenant strings never carry escape sequences, bidi controls or invisible characters to a terminal;
links come from an allowlist."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from dex_tui.safety import clean_text, endpoint_hosts, is_allowed_link


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Contoso Ltd", "Contoso Ltd"),
        ("\x1b[31mred\x1b[0m", "␛[31mred␛[0m"),
        ("\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", "␛]8;;https://evil.exampleclick␛]8;;"),
        ("bell\x07", "bell\ufffd"),
        ("line\nbreak", "line break"),
        ("[bold]x[/bold]", "[bold]x[/bold]"),
        (None, ""),
        # Trojan Source: reads "Contoso Ltd" or a safe file name while it is something else.
        ("Contoso \u202edtL\u202c", "Contoso ⟨U+202E⟩dtL⟨U+202C⟩"),
        ("invoice\u2066\u2069.pdf.exe", "invoice⟨U+2066⟩⟨U+2069⟩.pdf.exe"),
        ("Con\u200btoso\ufeff\u00ad", "Con⟨U+200B⟩toso⟨U+FEFF⟩⟨U+00AD⟩"),
        ("rtl\u200f mark\u061c", "rtl⟨U+200F⟩ mark⟨U+061C⟩"),
        ("tag\U000e0041\U000e007f", "tag⟨U+E0041⟩⟨U+E007F⟩"),
        ("para\u2028graph\u2029", "para⟨U+2028⟩graph⟨U+2029⟩"),
        ("Zoë Åström 東京 مرحبا", "Zoë Åström 東京 مرحبا"),  # letters of any script stay as they are
    ],
)
def test_clean_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_never_leaves_escape_characters() -> None:
    hostile = "".join(chr(c) for c in range(0, 0xA0)) * 3
    cleaned = clean_text(hostile, limit=10_000)
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "\x9b" not in cleaned


def test_every_format_and_separator_character_is_shown_by_code_point() -> None:
    """Every character of category Cf (bidi embeddings, overrides, isolates, marks, zero-width and
    invisible format characters), Zl and Zp in this Python's Unicode database is neutralised."""
    found = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp")]
    assert len(found) > 150
    for char in found:
        assert clean_text(f"a{char}b") == f"a⟨U+{ord(char):04X}⟩b", hex(ord(char))


def test_clean_text_shortens_long_values() -> None:
    assert len(clean_text("x" * 5000)) == 200
    assert clean_text("x" * 5000).endswith("…")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://security.microsoft.com/securitysettings/defenderexperts", True),
        ("https://admin.microsoft.com/", True),
        ("https://aka.ms/IWantDefenderExperts", True),
        ("https://learn.microsoft.com/en-us/defender-xdr/", True),
        ("http://security.microsoft.com/", False),
        ("https://microsoft.com.evil.example/", False),
        ("https://evilmicrosoft.com/", False),
        ("https://user@security.microsoft.com/", False),
        ("javascript:alert(1)", False),
        ("https://graph.demo.test/v1.0", False),
    ],
)
def test_link_allowlist(url: str, allowed: bool) -> None:
    assert is_allowed_link(url) is allowed


def test_configured_endpoints_are_allowed() -> None:
    hosts = endpoint_hosts("https://graph.demo.test", "https://127.0.0.1:8443")
    assert is_allowed_link("https://graph.demo.test/v1.0/organization", hosts)
    assert not is_allowed_link("https://other.test/", hosts)
