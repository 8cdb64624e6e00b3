"""The browser sign-in: only on a local desktop with a graphical browser, through a loopback redirect,
cancellable; and the ``ssh -L`` variant that only prints the address."""

from __future__ import annotations

import html
import re
import threading
import time
import webbrowser
from pathlib import Path

import msal
import pytest
import requests

import dex_tui.headless_signin as signin_command
from dex_tui.auth import (
    Authenticator,
    BrowserPage,
    BrowserSignInUnavailable,
    IdentityProviderError,
    RetryPolicy,
    SignInCancelled,
    SignInDeclined,
    SignInRetry,
)
from dex_tui.cli import run
from dex_tui.demo import FakeCloud, load_scenario
from dex_tui.loopback import LoopbackReceiver, graphical_browser_available, open_in_graphical_browser
from dex_tui.runtime import Runtime
from dex_tui.settings import Settings

DESKTOP = {"DISPLAY": ":0"}


def _runtime(approval: str = "auto", environ: dict | None = None) -> Runtime:
    scenario = load_scenario("ready").with_knobs(device_code={"approval": approval})
    return Runtime(Settings(demo="ready"), fake_cloud=FakeCloud(scenario), environ=environ or {})


def _browser_for(runtime: Runtime):
    """A simulated person at a browser: follows the sign-in address, then the redirect to localhost."""

    def visit(url: str) -> None:
        def go() -> None:
            page = runtime.session.get(url, allow_redirects=False)
            with requests.Session() as plain:
                plain.trust_env = False  # no proxy for the loopback address
                if page.status_code == 302:
                    plain.get(page.headers["Location"], timeout=5)
                    return
                assert page.status_code == 200  # response_mode=form_post: submit the form
                action = html.unescape(re.search(r'action="([^"]+)"', page.text).group(1))
                fields = {html.unescape(k): html.unescape(v)
                          for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
                plain.post(action, data=fields, timeout=5)

        threading.Thread(target=go, daemon=True).start()

    return visit


def test_browser_sign_in_through_the_loopback_redirect() -> None:
    runtime = _runtime()
    auth = runtime.authenticator()
    shown: list[str] = []
    browser = _browser_for(runtime)

    def show(url: str) -> None:
        shown.append(url)
        browser(url)

    signed = auth.sign_in_with_browser(show_url=show, open_browser=False, timeout=10)
    assert signed.method == "browser" and signed.username == runtime.fake_cloud.scenario.operator.upn
    assert len(shown) == 1 and "code_challenge_method=S256" in shown[0] and "redirect_uri=http" in shown[0]
    assert "response_mode=form_post" in shown[0]
    token = runtime.graph_token()
    me = runtime.session.get(f"{runtime.endpoints().graph_url}/v1.0/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_browser_sign_in_declined() -> None:
    runtime = _runtime(approval="decline")
    with pytest.raises(SignInDeclined):
        runtime.authenticator().sign_in_with_browser(show_url=_browser_for(runtime), open_browser=False, timeout=10)


def test_browser_sign_in_cancel_returns_quickly() -> None:
    auth = _runtime().authenticator()
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(SignInCancelled):
        auth.sign_in_with_browser(show_url=lambda url: None, open_browser=False, is_cancelled=cancel.is_set)
    assert time.monotonic() - started < 1.5


class _Recorder(webbrowser.BaseBrowser):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opened: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.opened.append(url)
        return True


class _Graphical(_Recorder, webbrowser.BackgroundBrowser):
    pass


class _Console(_Recorder, webbrowser.GenericBrowser):
    pass


def test_policy_refuses_ssh_no_desktop_and_console_browsers(monkeypatch) -> None:
    monkeypatch.setattr(webbrowser, "get", lambda using=None: _Graphical("xdg-open"))
    auth = _runtime().authenticator()
    for env, why in (({"SSH_CONNECTION": "1 2 3 4", **DESKTOP}, "SSH"), ({}, "desktop")):
        auth.environ = env
        policy = auth.browser_policy()
        assert not policy.allowed and why in policy.reason
    auth.environ = DESKTOP
    assert auth.browser_policy().allowed

    console = _Console("lynx")
    console.__class__ = webbrowser.GenericBrowser  # exactly what webbrowser registers for lynx/w3m
    monkeypatch.setattr(webbrowser, "get", lambda using=None: console)
    policy = auth.browser_policy()
    assert not policy.allowed and "terminal" in policy.reason


def test_console_browser_is_never_started(monkeypatch) -> None:
    started: list[str] = []

    class Lynx(webbrowser.GenericBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            started.append(url)
            return True

    lynx = Lynx("lynx")
    lynx.__class__ = webbrowser.GenericBrowser
    monkeypatch.setattr(webbrowser.GenericBrowser, "open", Lynx.open)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: lynx)
    assert graphical_browser_available()[0] is False
    assert open_in_graphical_browser("https://login.demo.test/x") is False
    assert started == []


def test_graphical_browser_opens_https_only(monkeypatch) -> None:
    browser = _Graphical("xdg-open")
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)
    assert open_in_graphical_browser("https://login.demo.test/authorize?x=1")
    assert not open_in_graphical_browser("file:///etc/passwd")
    assert browser.opened == ["https://login.demo.test/authorize?x=1"]


def test_a_launcher_that_fails_is_not_an_opened_page(monkeypatch, tmp_path: Path) -> None:
    """``gio open`` without a desktop to talk to exits 2: that is no page (webbrowser alone says True as
    soon as the process exists, and leaves it defunct)."""
    for command, opened in (("false", False), ("true", True)):
        monkeypatch.setattr(webbrowser, "get", lambda using=None, c=command: webbrowser.BackgroundBrowser(c))
        assert open_in_graphical_browser("https://login.demo.test/authorize?x=1") is opened, command
    missing = webbrowser.BackgroundBrowser(str(tmp_path / "no-such-launcher"))
    monkeypatch.setattr(webbrowser, "get", lambda using=None: missing)
    assert open_in_graphical_browser("https://login.demo.test/authorize?x=1") is False


def test_a_browser_that_stays_in_the_foreground_is_started_and_reaped(monkeypatch, tmp_path: Path) -> None:
    import dex_tui.loopback

    monkeypatch.setattr(dex_tui.loopback, "LAUNCH_WAIT", 0.2)
    marker = tmp_path / "seen"
    script = tmp_path / "browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" > {marker}\nsleep 1\n")
    script.chmod(0o755)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.BackgroundBrowser(str(script)))
    assert open_in_graphical_browser("https://login.demo.test/authorize?x=1") is True
    deadline = time.monotonic() + 3
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text().strip() == "https://login.demo.test/authorize?x=1"


def test_browser_sign_in_opens_the_browser_on_a_desktop(monkeypatch) -> None:
    runtime = _runtime(environ=DESKTOP)
    visit = _browser_for(runtime)

    class Desktop(_Graphical):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            visit(url)
            return True

    monkeypatch.setattr(webbrowser, "get", lambda using=None: Desktop("xdg-open"))
    shown: list[str] = []
    signed = runtime.authenticator().sign_in_with_browser(show_url=shown.append, timeout=10)
    assert signed.method == "browser" and shown == []  # opened, so nothing had to be shown


def test_open_browser_over_ssh_is_refused() -> None:
    auth = _runtime(environ={"SSH_TTY": "/dev/pts/1", **DESKTOP}).authenticator()
    with pytest.raises(BrowserSignInUnavailable) as caught:
        auth.sign_in_with_browser(open_browser=True)
    assert "ssh -L" in caught.value.next_step


def test_cli_browser_with_port_over_ssh_prints_the_address(monkeypatch, capsys) -> None:
    """The ssh -L case: nothing is opened on the remote machine; the address is printed and used."""
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22")
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "get", lambda using=None: opened.append("asked") or _Graphical("x"))
    runtimes: list[Runtime] = []
    original_init = Runtime.__init__

    def remember(self: Runtime, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        runtimes.append(self)

    monkeypatch.setattr(Runtime, "__init__", remember)
    original_err = signin_command._err

    def err(text: str) -> None:
        original_err(text)
        if text.startswith("https://login.demo.test/"):
            _browser_for(runtimes[0])(text)

    monkeypatch.setattr(signin_command, "_err", err)
    with LoopbackReceiver(0) as probe:  # find a free port
        port = probe.port
    assert run(["--demo", "ready", "signin", "--browser", "--port", str(port)]) == 0
    captured = capsys.readouterr()
    assert "(browser)" in captured.out and "ssh -L" in captured.err
    assert opened == []


def test_loopback_receiver_ignores_other_requests() -> None:
    with LoopbackReceiver(0) as receiver:
        def hit() -> None:
            with requests.Session() as plain:
                plain.trust_env = False
                assert plain.get(f"http://127.0.0.1:{receiver.port}/favicon.ico", timeout=5).status_code == 404
                plain.post(f"http://127.0.0.1:{receiver.port}/", data={"code": "c", "state": "s"}, timeout=5)

        threading.Thread(target=hit, daemon=True).start()
        assert receiver.wait(is_cancelled=lambda: False, timeout=5) == {"code": "c", "state": "s"}


def test_authenticator_rejects_a_busy_port() -> None:
    with LoopbackReceiver(0) as taken:
        auth = Authenticator(client_id="14d82eec-204b-4c2f-b7e8-296a70dab67e", login_url="https://login.demo.test",
                             tenant="organizations", session=_runtime().session,
                             store=_runtime().cache_store, environ={})
        with pytest.raises(BrowserSignInUnavailable):
            auth.sign_in_with_browser(open_browser=False, port=taken.port)


def test_on_page_hears_the_address_and_whether_a_browser_opened(monkeypatch) -> None:
    runtime = _runtime(environ=DESKTOP)
    visit = _browser_for(runtime)
    pages: list[BrowserPage] = []
    shown: list[str] = []

    class Fails(_Graphical):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            return False

    monkeypatch.setattr(webbrowser, "get", lambda using=None: Fails("xdg-open"))

    def page(found: BrowserPage) -> None:
        pages.append(found)
        visit(found.url)

    signed = runtime.authenticator().sign_in_with_browser(show_url=shown.append, on_page=page, timeout=10)
    assert signed.method == "browser"
    assert len(pages) == 1 and pages[0].opened is False and shown == [pages[0].url]
    assert pages[0].url.startswith("https://login.demo.test/") and "code_challenge=" in pages[0].url


def test_a_sign_in_page_off_the_allowlist_is_never_opened(monkeypatch) -> None:
    """A discovery document pointing the browser elsewhere: nothing is opened, shown, or listened for long."""
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "get", lambda using=None: opened.append("asked") or _Graphical("x"))
    monkeypatch.setattr(msal.PublicClientApplication, "initiate_auth_code_flow",
                        lambda self, **kwargs: {"auth_uri": "https://evil.example.com/authorize?x=1", "state": "s"})
    shown: list[str] = []
    pages: list[BrowserPage] = []
    with pytest.raises(IdentityProviderError) as caught:
        _runtime(environ=DESKTOP).authenticator().sign_in_with_browser(show_url=shown.append, on_page=pages.append,
                                                                       open_browser=False, timeout=5)
    assert caught.value.title == "Sign-in page refused" and "evil.example.com" in caught.value.explanation
    assert "--login-url" in caught.value.next_step
    assert shown == [] and pages == [] and opened == []


def test_a_busy_token_endpoint_is_retried_after_the_browser(monkeypatch) -> None:
    scenario = load_scenario("ready").with_faults({"endpoint": "login.token", "kind": "throttle",
                                                   "retry_after": 2, "count": 1})
    runtime = Runtime(Settings(demo="ready"), fake_cloud=FakeCloud(scenario), environ={})
    waited: list[float] = []
    auth = runtime.authenticator()
    auth.retry = RetryPolicy(sleep=waited.append)
    heard: list[SignInRetry] = []
    signed = auth.sign_in_with_browser(show_url=_browser_for(runtime), open_browser=False, timeout=10,
                                       on_retry=heard.append)
    assert signed.method == "browser" and waited == [2.0]
    assert [(n.doing, n.status) for n in heard] == [("finishing the browser sign-in", 429)]


def test_policy_reasons_have_a_short_form_for_one_line(monkeypatch) -> None:
    monkeypatch.setattr(webbrowser, "get", lambda using=None: _Graphical("xdg-open"))
    auth = _runtime().authenticator()
    auth.environ = {"SSH_TTY": "/dev/pts/0", **DESKTOP}
    assert auth.browser_policy().brief == "this is an SSH session"
    auth.environ = {}
    assert auth.browser_policy().brief == "there is no desktop session here"

    def nothing(using=None):
        raise webbrowser.Error("could not locate runnable browser")

    auth.environ = DESKTOP
    monkeypatch.setattr(webbrowser, "get", nothing)
    policy = auth.browser_policy()
    assert not policy.allowed and policy.brief == "no web browser was found"
