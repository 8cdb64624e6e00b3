"""Whether a link may be opened, and whether a browser may be started here at all.

A browser is started only on a local desktop, by the same rule as the browser sign-in
(:func:`dex_tui.desktop.local_desktop`: never over SSH, never outside Windows and macOS without
``DISPLAY`` / ``WAYLAND_DISPLAY``, where ``webbrowser`` could start a console browser inside our own
terminal), and never in demo mode (the demo hosts exist only inside this process). Elsewhere the URL
is shown in a dialog with a copy key.
"""

from __future__ import annotations

from collections.abc import Mapping

from dex_tui.desktop import local_desktop
from dex_tui.safety import endpoint_hosts, is_allowed_link
from dex_tui.settings import Settings


def can_start_browser(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True only on a local graphical desktop (``env`` and ``platform`` default to this process's)."""
    return local_desktop(env, platform).present


def allowed_link(url: str, settings: Settings) -> bool:
    """Links only to Microsoft hosts and the endpoints this run is configured with."""
    endpoints = settings.endpoints()
    return is_allowed_link(url, endpoint_hosts(endpoints.login_url, endpoints.graph_url, endpoints.mde_url))
