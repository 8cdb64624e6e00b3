"""The browser sign-in's local pieces: a loopback receiver for the redirect, and a browser opener that
refuses console browsers.

MSAL's own ``acquire_token_interactive`` cannot be cancelled and may start a text browser (lynx,
w3m) in the terminal the wizard is drawing on (reference/tech.md §1.4), so dex-tui runs the
authorization code flow itself (MSAL's ``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``,
PKCE included) and owns both pieces here.
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

_DONE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dex-tui sign-in</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto"><h1>{title}</h1><p>{text}</p></body></html>
"""


def _controller_name(controller: object) -> str:
    name = getattr(controller, "name", "") or getattr(controller, "basename", "") or type(controller).__name__
    return os.path.basename(str(name).split()[0]) if str(name).strip() else type(controller).__name__


class BrowserCheck(NamedTuple):
    """Whether a graphical browser can be started, why (``reason``), and a few words for one line."""

    ok: bool
    reason: str
    short: str


def graphical_browser_available() -> BrowserCheck:
    """Whether Python's default browser is a graphical one (never a command that runs in this terminal).

    ``webbrowser.GenericBrowser`` runs its command in the foreground and waits for it: that is how
    console browsers (www-browser, lynx, w3m, links) and unknown ``BROWSER`` commands are started,
    so it is refused.
    """
    import webbrowser

    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return BrowserCheck(False, "no web browser is registered on this machine", "no web browser was found")
    name = _controller_name(controller)
    if type(controller) is webbrowser.GenericBrowser:
        return BrowserCheck(False, f"the default browser command {name!r} would run in this terminal (a console "
                                   "browser or a BROWSER setting)", "the only browser found runs in the terminal")
    return BrowserCheck(True, f"the browser {name!r} opens on this desktop", "")


def open_in_graphical_browser(url: str) -> bool:
    """Open ``url`` in the default graphical browser, in the background; False when that is not possible
    or the browser's launcher said it failed."""
    import webbrowser

    if not graphical_browser_available().ok or urlsplit(url).scheme != "https" or any(ch in url for ch in "\r\n\t "):
        return False
    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        return False
    result: dict[str, bool] = {}

    def launch() -> None:
        try:
            if type(controller) is webbrowser.BackgroundBrowser:
                result["opened"] = _launch_and_wait([controller.name, *(a.replace("%s", url) for a in controller.args)])
            else:
                result["opened"] = bool(controller.open(url))
        except Exception:  # noqa: BLE001 - any launcher failure just means "show the address instead"
            result["opened"] = False

    thread = threading.Thread(target=launch, name="dex-tui-browser", daemon=True)
    thread.start()
    thread.join(timeout=LAUNCH_WAIT + 1.0)
    if thread.is_alive():  # a launcher still busy starting a graphical browser: it is on its way
        return True
    return result.get("opened", False)


LAUNCH_WAIT = 4.0  # seconds a launcher (xdg-open, gio open) gets to say whether it handed the page over


def _launch_and_wait(command: list[str]) -> bool:
    """Run a launcher such as ``xdg-open`` or ``gio open`` (what ``webbrowser`` starts as a
    BackgroundBrowser) and wait a moment for its verdict. ``webbrowser`` itself reports success as soon
    as the process exists, so ``gio open`` failing without a desktop to talk to looked like an open
    page (and stayed a defunct child). Exit status 0, or still running after ``LAUNCH_WAIT`` (a browser
    that stays in the foreground), is a started browser; any other status is not. The child is always
    reaped."""
    import subprocess

    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    except OSError:
        return False
    try:
        return process.wait(timeout=LAUNCH_WAIT) == 0
    except subprocess.TimeoutExpired:
        threading.Thread(target=process.wait, name="dex-tui-browser-reaper", daemon=True).start()
        return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._take(dict(parse_qsl(urlsplit(self.path).query)))

    def do_POST(self) -> None:  # noqa: N802
        length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
        body = self.rfile.read(length).decode("utf-8", "replace")
        self._take(dict(parse_qsl(body)))

    def _take(self, params: dict[str, str]) -> None:
        if urlsplit(self.path).path not in ("", "/") or not ({"code", "error"} & set(params)):
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Not found")
            return
        if "error" in params:
            title, text = "Sign-in failed", f"{params.get('error_description') or params['error']}"
        else:
            title, text = "Signed in", "You can close this tab and return to dex-tui."
        page = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text[:300]))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page.encode("utf-8"))
        if self.server.reply is None:
            self.server.reply = params

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
        return


class _Server(HTTPServer):
    reply: dict[str, str] | None = None


class LoopbackReceiver:
    """Listens on ``127.0.0.1:port`` (0 picks a free port) for the identity provider's redirect."""

    def __init__(self, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self.port: int = self._server.server_address[1]

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.server_close()

    def wait(self, *, is_cancelled: Callable[[], bool], timeout: float, tick: float = 0.25) -> dict[str, str] | None:
        """The redirect's parameters (``code``/``state`` or ``error``); None on cancel or timeout."""
        deadline = time.monotonic() + timeout
        self._server.timeout = tick
        while self._server.reply is None:
            if is_cancelled() or time.monotonic() >= deadline:
                return None
            self._server.handle_request()
        return self._server.reply
