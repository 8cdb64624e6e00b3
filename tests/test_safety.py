"""Tenant strings never carry escape sequences to a terminal; links come from an allowlist."""

from __future__ import annotations

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
    ],
)
def test_clean_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_text_never_leaves_escape_characters() -> None:
    hostile = "".join(chr(c) for c in range(0, 0xA0)) * 3
    cleaned = clean_text(hostile, limit=10_000)
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "\x9b" not in cleaned


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
