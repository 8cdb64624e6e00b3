"""One rule decides whether a browser may open here (dex_tui.desktop.local_desktop), and both places
that start a browser follow it: the browser sign-in (Authenticator.browser_policy) and the wizard's
"open a link" (screens.links.can_start_browser)."""

from __future__ import annotations

import sys
import webbrowser

import pytest

from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.desktop import local_desktop
from dex_tui.runtime import Runtime
from dex_tui.settings import Settings
from screens.links import can_start_browser

# (environment, platform, a local desktop?)
CASES = [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({}, "linux", False),
    ({"DISPLAY": ""}, "linux", False),
    ({}, "freebsd14", False),
    ({}, "sunos5", False),  # neither Windows nor macOS: a display is needed
    ({}, "win32", True),
    ({}, "darwin", True),
    ({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22", "DISPLAY": ":0"}, "linux", False),
    ({"SSH_TTY": "/dev/pts/1", "DISPLAY": ":0"}, "linux", False),
    ({"SSH_CLIENT": "10.0.0.1 5000 22", "DISPLAY": ":0"}, "linux", False),  # links.py used to miss this one
    ({"SSH_CLIENT": "10.0.0.1 5000 22"}, "darwin", False),
    ({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"}, "win32", False),
]


@pytest.mark.parametrize(("environ", "platform", "desktop"), CASES)
def test_the_rule_and_the_link_opener_agree(environ: dict[str, str], platform: str, desktop: bool) -> None:
    found = local_desktop(environ, platform)
    assert found.present is desktop
    assert bool(found.reason) is not desktop and bool(found.short) is not desktop
    assert can_start_browser(environ, platform) is desktop


@pytest.mark.parametrize(("environ", "platform", "desktop"), [c for c in CASES if c[1] == sys.platform])
def test_the_browser_sign_in_follows_the_same_rule(monkeypatch, environ: dict[str, str], platform: str,
                                                   desktop: bool) -> None:
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.BackgroundBrowser("xdg-open"))
    auth = Runtime(Settings(demo="ready"), fake_cloud=FakeCloud(load_scenario("ready")),
                   environ=environ).authenticator()
    policy = auth.browser_policy()
    assert policy.allowed is desktop
    if not desktop:
        assert (policy.reason, policy.short) == (local_desktop(environ).reason, local_desktop(environ).short)


def test_the_defaults_are_this_process(monkeypatch) -> None:
    for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert local_desktop().present and can_start_browser()
    monkeypatch.setenv("SSH_CLIENT", "10.0.0.1 5000 22")
    assert not local_desktop().present and not can_start_browser()
