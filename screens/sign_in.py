"""Step 2: sign in with a device code, the browser (a local desktop only) or a cached account, then show
who signed in and their roles.

The device-code panel keeps everything a person guiding a customer needs on screen: the address (with a
QR code of it when the terminal has room, ``q`` toggles it), the code, the countdown, and keys that copy
either value through the terminal (OSC 52). Where no browser can start here (SSH, no desktop, the demo)
there is no "open" key, so no dialog ever covers the code. After a failure the cause and the next step
stay on the step, and a flow that Conditional Access blocks is not offered again.

In demo mode the step offers the same choices, for the same reasons, as a real run in this terminal;
the demo never starts a browser (its sign-in page exists only inside dex-tui): "a" plays the operator at
the (fake) page, for the device code and the browser sign-in alike.

The MSAL calls run in thread workers of this screen (group ``signin``); leaving the screen or
pressing Esc cancels them, and the core stops polling (or listening for the browser's reply) within
about a second. Workers never touch a widget: they post the messages below or ``screens.messages``.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from dex_tui.auth import (
    AccountChoiceRequired,
    BrowserPage,
    BrowserPolicy,
    CachedAccount,
    DeviceCodeExpired,
    DeviceCodePrompt,
    SignedIn,
    SignInCancelled,
    SignInRequired,
    SignInRetry,
)
from dex_tui.errors import DexError
from dex_tui.signin_errors import ConditionalAccessBlocked
from screens import messages as msg
from screens.base import StepScreen
from screens.links import allowed_link
from screens.qr import qr_size, qr_text
from screens.text import plain, tenant
from screens.workers import as_dex_error

NEW_CODE = "__device_code__"
BROWSER = "__browser__"

BROWSER_TURNED_OFF = BrowserPolicy(False, "starting a browser is turned off for this run",
                                   "starting a browser is turned off")


def spaced_code(code: str) -> str:
    """The user code with a space between characters, easier to read aloud and to type."""
    return " ".join(code)


# Room the device-code panel's text needs beside a QR code, and the rest of the screen around the panel.
QR_TEXT_COLUMNS = 44
QR_OTHER_LINES = 12
COPY_NOTE = ("A terminal may ignore OSC 52 (in tmux: set -g set-clipboard on); if nothing arrived, type the "
             "{what} shown.")


def browser_offer(policy_of: Callable[[], BrowserPolicy], *, demo: bool, browser_allowed: bool) -> BrowserPolicy:
    """Whether the wizard offers the browser sign-in: the core's policy (local desktop, no remote session,
    a graphical browser), and not when this run must not start a browser (``WizardApp.browser_allowed``).
    A demo run answers as a real run in this terminal would (it then rehearses the browser sign-in
    without starting one). ``policy_of`` may look for a browser, so call this in a worker."""
    policy = policy_of()
    if policy.allowed and not browser_allowed and not demo:
        return BROWSER_TURNED_OFF
    return policy


def not_offered_line(policy: BrowserPolicy) -> str:
    """The one line that says why the browser sign-in is not offered ('' when it is)."""
    return "" if policy.allowed else f"Browser sign-in is not offered: {policy.brief}."


class SignInOptions(msg.AccountsFound):
    """Cached accounts, token cache notices, and whether the browser sign-in is offered."""

    def __init__(self, accounts: list[CachedAccount], notices: list[str], browser: BrowserPolicy) -> None:
        super().__init__(accounts, notices)
        self.browser = browser


class BrowserPageShown(Message):
    """The browser sign-in's page: its address, and whether a browser was started with it."""

    def __init__(self, page: BrowserPage) -> None:
        super().__init__()
        self.page = page


class SignInRetrying(Message):
    """The identity provider answered 429/5xx; the sign-in tries again after a pause."""

    def __init__(self, notice: SignInRetry) -> None:
        super().__init__()
        self.notice = notice


class DemoReady(Message):
    """The demo tenant, built in the background since the first frame, is ready: sign-in can start."""


class SignInScreen(StepScreen):
    STEP_ID = "signin"
    DEFAULT_CSS = """
    #browser-note {
        color: $text-muted;
        text-style: italic;
        height: auto;
    }
    #browser-panel {
        height: auto;
        max-width: 90;
        border: round $accent;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    #browser-panel Static {
        height: auto;
    }
    #browser-keys {
        color: $text-muted;
    }
    #code-text {
        width: 1fr;
        height: auto;
    }
    #code-qr {
        width: auto;
        height: auto;
        margin: 0 0 0 2;
    }
    #code-keys {
        color: $text-muted;
    }
    #signin-problem {
        height: auto;
        max-width: 90;
        border-left: thick $error;
        padding: 0 1;
        margin: 1 0 0 0;
    }
    """
    BINDINGS = [
        Binding("c", "copy_code", "Copy code", id="signin.copy"),
        Binding("l", "copy_link", "Copy link", id="signin.copy_link"),
        Binding("c", "copy_address", "Copy address", id="signin.copy_address"),
        Binding("o", "open_page", "Open page", id="signin.open"),
        Binding("q", "toggle_qr", "QR code", show=False, id="signin.qr"),  # the panel names it
        Binding("o", "open_again", "Open again", id="signin.open_again"),
        Binding("n", "new_code", "New code", id="signin.new"),
        Binding("b", "browser", "Browser", id="signin.browser"),
        Binding("a", "demo_approve", "Approve", id="signin.demo_approve"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.prompt: DeviceCodePrompt | None = None
        self.page: BrowserPage | None = None
        self.browser = BrowserPolicy(False, "not known yet")
        self.prompt_seconds = 0
        self.prompt_received = 0.0
        # idle, preparing, accounts, waiting (device code), browser (waiting for it), signing, signed_in, stopped
        self.state = "idle"
        self._accounts: dict[str, CachedAccount] = {}
        self.rehearse_browser = False  # demo: the browser sign-in is offered as here, but none is started
        self.running_flow = ""  # "code", "browser" or "account": the sign-in under way
        self.blocked_flows: set[str] = set()  # flows Conditional Access refused: not offered again here
        self.qr_wanted: bool | None = None  # the operator's q (None: shown when the terminal has room)

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="signin-scroll"):
            if self.wizard.core.notice:
                yield Static(plain(self.wizard.core.notice), id="notice")
            yield Static("", id="signin-status")
            yield Static("", id="browser-note")
            yield OptionList(id="accounts")
            with Horizontal(id="code-panel"):
                with Vertical(id="code-text"):
                    yield Static("", id="code-step-1")
                    yield Static("", id="code-url")
                    yield Static("2. Enter this code:", id="code-step-2")
                    yield Static("", id="user-code")
                    yield Static("", id="code-expiry")
                    yield Static("", id="code-keys")
                yield Static("", id="code-qr")
            with Vertical(id="browser-panel"):
                yield Static("", id="browser-step")
                yield Static("", id="browser-url")
                yield Static("", id="browser-keys")
            yield Static("", id="signin-problem")
            yield Static("", id="who")
            yield Static("", id="cache-notice")

    def on_mount(self) -> None:
        super().on_mount()
        for selector in ("#accounts", "#code-panel", "#browser-panel", "#browser-note", "#signin-problem"):
            self.query_one(selector).display = False
        self.set_interval(1.0, self._tick)
        if self.wizard.session is not None:
            self._show_signed_in(self.wizard.session)
        else:
            self._prepare()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show each key only when it does something (the footer follows)."""
        waiting = self.state == "waiting" and self.prompt is not None
        linked = waiting and self.prompt is not None and self.prompt.link_allowed
        if action == "copy_code":
            return waiting
        if action in ("copy_link", "toggle_qr"):
            return linked
        if action == "open_page":
            return linked and self.wizard.browser_allowed
        if action == "copy_address":
            return self.state == "browser" and self._shown_url() is not None
        if action == "open_again":
            return self.state == "browser" and self._shown_url() is not None and not self.rehearse_browser
        if action == "demo_approve":
            rehearsing = self.state == "browser" and self.rehearse_browser and self._shown_url() is not None
            return (waiting or rehearsing) and self.wizard.core.demo is not None
        if action == "new_code":
            return self.state in ("stopped", "accounts") and "code" not in self.blocked_flows
        if action == "browser":
            return self.state in ("stopped", "accounts") and self._browser_offered()
        return True

    def _browser_offered(self) -> bool:
        return self.browser.allowed and "browser" not in self.blocked_flows

    # -- dialogs over the step: a demo code gets no answer meanwhile ------------------------------

    def _hold_demo_code(self) -> None:
        """Hold the demo code's answer while any screen (a dialog, the palette) is over this step. Asked of
        the screen stack each time rather than tracked, since a screen's resume may arrive after a dialog
        already opened over it."""
        if self.wizard.core.demo is not None and self.is_attached:
            self.wizard.core.demo.hold_device_code(self.app.screen is not self)

    def on_screen_suspend(self, event: events.ScreenSuspend) -> None:
        self._hold_demo_code()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self._hold_demo_code()

    def on_unmount(self) -> None:
        if self.wizard.core.demo is not None:
            self.wizard.core.demo.hold_device_code(False)

    def on_resize(self, event: events.Resize) -> None:
        self._show_qr()

    # -- state display -------------------------------------------------------------------------

    def _status(self, text: str | Text, style: str = "") -> None:
        self.query_one("#signin-status", Static).update(text if isinstance(text, Text) else plain(text, style))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.refresh_bindings()
        self.refresh_frame()

    def _hide_panels(self) -> None:
        for selector in ("#accounts", "#code-panel", "#browser-panel"):
            self.query_one(selector).display = False

    def _show_problem(self, error: DexError | None, extra: str = "") -> None:
        """What went wrong and what to do next, kept on the step after the error dialog closes."""
        problem = self.query_one("#signin-problem", Static)
        if error is None:
            problem.display = False
            return
        text = plain(f"{error.title}. ", style="bold") + tenant(error.explanation, limit=1200)
        if error.next_step:
            text.append_text(plain("\nWhat to do: ", style="bold") + tenant(error.next_step, limit=1200))
        if extra:
            text.append_text(plain("\n" + extra))
        problem.update(text)
        problem.display = True

    def _qr_room(self) -> bool:
        """Whether the terminal has room for the QR code beside the code panel's text."""
        if self.prompt is None or not self.prompt.link_allowed:
            return False
        columns, lines = qr_size(self.prompt.verification_uri)
        return self.app.size.width >= columns + QR_TEXT_COLUMNS and self.app.size.height >= lines + QR_OTHER_LINES

    def _show_qr(self) -> None:
        """Show the QR code of the address when wanted (q), or by default when the terminal has room."""
        if not self.is_mounted:
            return
        qr = self.query_one("#code-qr", Static)
        linked = self.prompt is not None and self.prompt.link_allowed
        shown = linked and (self._qr_room() if self.qr_wanted is None else self.qr_wanted)
        if shown and self.prompt is not None:
            qr.update(qr_text(self.prompt.verification_uri))
        qr.display = shown
        if linked:
            self._show_code_keys(shown)

    def _show_code_keys(self, qr_shown: bool) -> None:
        keys = ["c copies the code", "l copies the address"]
        if self.wizard.browser_allowed:
            keys.append("o opens the page")
        keys.append("q hides the QR code" if qr_shown else "q shows a QR code of the address")
        self.query_one("#code-keys", Static).update(plain(" · ".join(keys), style="italic"))

    def _shown_url(self) -> str | None:
        """The browser sign-in's address when it may be shown and opened (on the link allowlist)."""
        if self.page is None or not allowed_link(self.page.url, self.wizard.settings):
            return None
        return self.page.url

    # -- workers -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        self._set_state("preparing")
        self._status("Preparing sign-in…")
        self.rehearse_browser = self.wizard.settings.is_demo and not self.wizard.browser_allowed
        demo = self.wizard.core.demo
        if demo is not None and not demo.ready:  # the demo tenant is still being built: wait off the UI thread
            self._wait_for_demo()
            return
        try:
            _ = self.wizard.runtime  # built on the UI thread (no network) before a worker uses it
        except Exception as exc:  # a demo scenario that failed its full check as its tenant was built
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self._find_options(self.wizard.settings.is_demo, self.wizard.browser_allowed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _wait_for_demo(self) -> None:
        """Wait until the demo tenant is built (it starts after the first frame), then prepare again."""
        worker = get_current_worker()
        demo = self.wizard.core.demo
        while demo is not None and not demo.wait_ready(0.1):
            if worker.is_cancelled:
                return
        self._post_current(worker, DemoReady())

    @on(DemoReady)
    def _demo_ready(self, message: DemoReady) -> None:
        message.stop()
        if self.state == "preparing":
            self._prepare()

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _find_options(self, demo: bool, browser_allowed: bool) -> None:
        """Build the authenticator (may read the tenant's metadata), list cached accounts, and decide
        whether the browser sign-in is offered (looking for a browser may start a process)."""
        runtime = self.wizard.runtime
        try:
            auth = runtime.authenticator()
            accounts = auth.accounts()
            policy = browser_offer(auth.browser_policy, demo=demo, browser_allowed=browser_allowed)
        except Exception as exc:  # every failure goes to the error dialog
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self.post_message(SignInOptions(accounts, [n.one_line() for n in runtime.cache_notices()], policy))

    def _post_current(self, worker: Worker[None], message: Message) -> None:
        """Post a sign-in worker's message unless the worker was cancelled (Esc, or replaced by a new
        sign-in): a late word from a cancelled sign-in must not undo what the screen shows since."""
        if not worker.is_cancelled:
            self.post_message(message)

    def _retrying(self, notice: SignInRetry) -> None:
        """Worker side: tell the screen the provider is busy and when the next try comes."""
        self.post_message(SignInRetrying(notice))

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _device_code(self) -> None:
        worker = get_current_worker()
        auth = self.wizard.runtime.authenticator()
        try:
            signed = auth.sign_in_with_device_code(
                lambda prompt: self._post_current(worker, msg.DeviceCodeIssued(prompt)),
                is_cancelled=lambda: worker.is_cancelled, on_retry=self._retrying)
        except SignInCancelled:
            self._post_current(worker, msg.SignInCancelled())
            return
        except DeviceCodeExpired:
            self._post_current(worker, msg.DeviceCodeExpired())
            return
        except Exception as exc:
            self._post_current(worker, msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self._post_current(worker, msg.SignedIn(signed))

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _browser_sign_in(self) -> None:
        """The browser sign-in: opens the page in the desktop's graphical browser and waits for its reply."""
        worker = get_current_worker()
        auth = self.wizard.runtime.authenticator()
        try:
            signed = auth.sign_in_with_browser(is_cancelled=lambda: worker.is_cancelled,
                                               on_page=lambda page: self._post_current(worker, BrowserPageShown(page)),
                                               on_retry=self._retrying, open_browser=not self.rehearse_browser)
        except SignInCancelled as stopped:
            self._post_current(worker, msg.WorkerFailed(stopped, "signin"))  # not Esc: the browser flow stopped
            return
        except Exception as exc:
            self._post_current(worker, msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self._post_current(worker, msg.SignedIn(signed))

    @work(thread=True, exit_on_error=False, group="signin-open")
    def _open_again(self, url: str) -> None:
        """Start the graphical browser on the page again (never a console browser; may take a moment)."""
        from dex_tui.loopback import open_in_graphical_browser

        if not open_in_graphical_browser(url):
            self.post_message(BrowserPageShown(BrowserPage(url=url, opened=False)))

    @work(thread=True, exit_on_error=False, group="signin-demo")
    def _demo_browser_page(self, url: str) -> None:
        """Demo: what the operator's browser would do at the fake sign-in page (its reply reaches the
        browser sign-in's listener, which finishes the sign-in)."""
        demo = self.wizard.core.demo
        if demo is None:
            return
        try:
            demo.sign_in_at_browser_page(url)
        except Exception as exc:
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _restore(self, account: CachedAccount) -> None:
        worker = get_current_worker()
        try:
            signed = self.wizard.runtime.authenticator().restore(account, is_cancelled=lambda: worker.is_cancelled,
                                                                 on_retry=self._retrying)
        except (SignInRequired, AccountChoiceRequired) as exc:
            self._post_current(worker, msg.WorkerFailed(exc, "signin-restore"))
            return
        except SignInCancelled:
            self._post_current(worker, msg.SignInCancelled())
            return
        except Exception as exc:
            self._post_current(worker, msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        if signed is None:
            self._post_current(worker, msg.WorkerFailed(SignInRequired(
                "That account's saved sign-in is no longer in the cache.", next_step="Sign in with a code."),
                "signin-restore"))
            return
        self._post_current(worker, msg.SignedIn(signed))

    # -- message handlers ----------------------------------------------------------------------

    @on(SignInOptions)
    def _options_found(self, message: SignInOptions) -> None:
        message.stop()
        self.browser = message.browser
        note = self.query_one("#browser-note", Static)
        note.update(plain(not_offered_line(message.browser)))
        note.display = not message.browser.allowed
        notice = self.query_one("#cache-notice", Static)
        notice.update(plain("\n".join(message.notices), style="italic"))
        notice.display = bool(message.notices)
        # The cached sign-in just stopped working: no account picker, a new sign-in.
        accounts = [] if self.wizard.core.needs_new_code else message.accounts
        if not accounts and not self._browser_offered():
            self._start_device_code()
            return
        self._show_choices(accounts)

    def _show_choices(self, accounts: list[CachedAccount]) -> None:
        """The picker: cached accounts, then the browser (when offered) and a device code."""
        picker = self.query_one("#accounts", OptionList)
        picker.clear_options()
        for account in accounts:
            picker.add_option(Option(tenant(account.label()), id=account.home_account_id))
        if self._browser_offered():
            picker.add_option(Option("Sign in with your browser (another account)" if accounts
                                     else "Sign in with your browser (it opens on this desktop)", id=BROWSER))
        if "code" not in self.blocked_flows:
            picker.add_option(Option("Sign in with a new code (another account)" if accounts
                                     else "Sign in with a code (enter it on any device)", id=NEW_CODE))
        self._accounts = {a.home_account_id: a for a in accounts}
        picker.display = True
        picker.highlighted = 0
        picker.focus()
        self._status("You signed in on this machine before. Choose an account, or sign in anew:" if accounts
                     else "How do you want to sign in?")
        self._set_state("accounts")

    @on(OptionList.OptionSelected, "#accounts")
    def _account_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#accounts", OptionList).display = False
        if event.option_id == NEW_CODE:
            self._start_device_code()
            return
        if event.option_id == BROWSER:
            self._start_browser()
            return
        account = self._accounts[str(event.option_id)]
        self.running_flow = "account"
        self._show_problem(None)
        self._set_state("signing")
        self._status(plain("Signing in as ") + tenant(account.username, style="bold") + plain("…"))
        self._restore(account)

    def _start_device_code(self) -> None:
        self._hide_panels()
        self.running_flow = "code"
        self._show_problem(None)
        self._set_state("signing")
        self._status("Asking Microsoft Entra for a sign-in code…")
        self._device_code()

    def _start_browser(self) -> None:
        self._hide_panels()
        self.page = None
        self.running_flow = "browser"
        self._show_problem(None)
        self._set_state("signing")
        self._status("Demo: preparing the browser sign-in (no browser is started)…" if self.rehearse_browser
                     else "Opening the sign-in page in your browser…")
        self._browser_sign_in()

    @on(msg.DeviceCodeIssued)
    def _code_issued(self, message: msg.DeviceCodeIssued) -> None:
        message.stop()
        renewed = self.prompt is not None
        prompt: DeviceCodePrompt = message.code
        self.prompt = prompt
        self.prompt_seconds = prompt.expires_in  # counted down on the app's clock, not MSAL's wall-clock stamp
        self.prompt_received = self.wizard.clock()
        self.query_one("#code-step-1", Static).update("1. On any device with a browser, open:")
        url = prompt.verification_uri if prompt.link_allowed else "(the link the identity provider sent is not on "\
            "the allowlist of Microsoft hosts; check --login-url)"
        self.query_one("#code-url", Static).update(tenant(url, style="bold underline", limit=300))
        self.query_one("#user-code", Static).update(tenant(spaced_code(prompt.user_code), style="bold", limit=80))
        self.query_one("#code-panel").display = True
        self.query_one("#code-keys").display = prompt.link_allowed
        note = "The previous code expired; here is a new one. " if renewed else ""
        self._status(f"{note}Waiting for you to sign in… Esc cancels.{self._demo_hint()}")
        self._hold_demo_code()
        self._set_state("waiting")
        self._show_qr()
        self._tick()

    def _demo_hint(self) -> str:
        demo = self.wizard.core.demo
        if demo is None:
            return ""
        if demo.waits_for_operator:
            return " Demo: press a to act at the (fake) verification page."
        return " Demo: approved by itself in a few seconds (a: at once)."

    @on(BrowserPageShown)
    def _page_shown(self, message: BrowserPageShown) -> None:
        message.stop()
        if self.state not in ("signing", "browser"):
            return  # cancelled meanwhile
        self.page = message.page
        url = self._shown_url()
        if self.rehearse_browser:
            started = ("Demo: a real run would now open this sign-in page in your browser on this desktop; the "
                       "demo starts none (its page exists only inside dex-tui). The page's address:")
        elif message.page.opened:
            started = ("A browser was started with the Microsoft sign-in page. If it is not in front of you, "
                       "open this address in a browser on this computer:")
        else:
            started = "No browser could be started here. Open this address in a browser on this computer:"
        self.query_one("#browser-step", Static).update(plain(started))
        self.query_one("#browser-url", Static).update(
            tenant(url, style="bold underline", limit=4000) if url is not None else
            plain("(the address is not on the allowlist of Microsoft hosts and configured endpoints, so it is "
                  "not shown; check --login-url)"))
        keys = "c copies the address · a signs in at the (fake) page" if self.rehearse_browser else \
            "c copies the address · o opens it again"
        self.query_one("#browser-keys", Static).update(keys if url else "")
        self.query_one("#browser-panel").display = True
        self._status("Waiting for you to finish signing in in the browser… Esc cancels.")
        self._set_state("browser")

    @on(SignInRetrying)
    def _retry_notice(self, message: SignInRetrying) -> None:
        message.stop()
        if self.state in ("signing", "waiting", "browser"):
            self._status(plain(message.notice.one_line() + " Esc cancels."))

    def _tick(self) -> None:
        self._hold_demo_code()
        if self.state != "waiting" or self.prompt is None:
            return
        elapsed = int(self.wizard.clock() - self.prompt_received)
        left = max(0, self.prompt_seconds - elapsed)
        self.query_one("#code-expiry", Static).update(f"Expires in {left // 60:02d}:{left % 60:02d}")

    @on(msg.DeviceCodeExpired)
    def _code_expired(self, message: msg.DeviceCodeExpired) -> None:
        message.stop()
        self._stop("The code expired several times without a sign-in.", "for a new code")

    @on(msg.SignInCancelled)
    def _cancelled(self, message: msg.SignInCancelled) -> None:
        message.stop()
        self._stop("Sign-in cancelled.", "for a new code", back=True)

    def _stop(self, text: str, n_does: str, *, back: bool = False) -> None:
        """Stop showing a pending sign-in and say which keys start another (n; b when the browser is
        offered; Esc to go back)."""
        self.prompt = None
        self.page = None
        self._hide_panels()
        keys = ([f"n {n_does}"] if "code" not in self.blocked_flows else []) + \
            (["b for the browser"] if self._browser_offered() else [])
        if back or not keys:
            keys.append("Esc to go back")
        listed = keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + ", or " + keys[-1]
        self._status(f"{text} Press {listed}.", "bold")
        self._set_state("stopped")

    @on(msg.WorkerFailed)
    def _failed(self, message: msg.WorkerFailed) -> None:
        """Sign-in errors: the error dialog, then a way to try again. A cached account that no longer
        works falls back to a new sign-in."""
        message.stop()
        if message.group == "signin-restore":
            self.notify(message.error.explanation, title=message.error.title, severity="warning", markup=False)
            if self.browser.allowed:
                self._show_choices([])
            else:
                self._start_device_code()
            return
        error = message.error
        extra = ""
        if isinstance(error, ConditionalAccessBlocked) and self.running_flow in ("code", "browser"):
            self.blocked_flows.add(self.running_flow)
            way = "The device code" if self.running_flow == "code" else "The browser sign-in"
            if self._browser_offered():
                then = "Press b to sign in with the browser instead."
            elif "code" not in self.blocked_flows:
                then = "Press n to sign in with a code instead."
            else:
                then = ("Quit (Ctrl+Q), sign in as said above, and start dex-tui again: it offers the saved "
                        "sign-in.")
            extra = (f"{way} is not offered again on this step, since the policy refuses it (leave the step and "
                     f"come back to try it once the policy allows it). {then}")
        self._stop("Sign-in did not complete.",
                   "to try again with a code" if self._browser_offered() else "to try again")
        self._show_problem(error, extra)
        self.wizard.show_error(error)

    @on(msg.SignedIn)
    def _signed_in(self, message: msg.SignedIn) -> None:
        message.stop()
        self.prompt = None
        self.page = None
        self.wizard.signed_in(message.session)
        self._show_signed_in(message.session)

    def _show_signed_in(self, signed: SignedIn) -> None:
        self._hide_panels()
        self._show_problem(None)
        self.query_one("#browser-note").display = False
        resume = self.wizard.core.resume_to
        following = self.wizard.core.flow.get(resume).title if resume else "the live checks"
        self._status(plain("✔ Signed in. ", style="bold") + plain(f"Next ▶ (Enter) goes on to {following}."))
        self.query_one("#who", Static).update(who_text(signed, self.wizard.core.cloud_note()))
        self._set_state("signed_in")
        self.query_one("#next").focus()

    # -- actions -------------------------------------------------------------------------------

    def action_copy_code(self) -> None:
        if self.prompt is None:
            return
        self._copy(self.prompt.user_code, f"the code {self.prompt.user_code}", "code")

    def action_copy_link(self) -> None:
        if self.prompt is not None and self.prompt.link_allowed:
            self._copy(self.prompt.verification_uri, "the address " + self.prompt.verification_uri, "address")

    def action_copy_address(self) -> None:
        url = self._shown_url()
        if url is not None:
            self._copy(url, "the sign-in page's address", "address")

    def _copy(self, value: str, named: str, what: str) -> None:
        """Send ``value`` to the clipboard through the terminal (OSC 52) and say which value went."""
        self.app.copy_to_clipboard(value)
        shown = tenant(named, limit=200).plain
        self.notify(f"Sent {shown} to your clipboard through the terminal (OSC 52). " + COPY_NOTE.format(what=what),
                    markup=False)

    def action_open_page(self) -> None:
        if self.prompt is not None and self.prompt.link_allowed and self.wizard.browser_allowed:
            self.app.open_url(self.prompt.verification_uri)

    def action_toggle_qr(self) -> None:
        if self.state == "waiting" and self.prompt is not None and self.prompt.link_allowed:
            shown = bool(self.query_one("#code-qr").display)
            self.qr_wanted = not shown
            self._show_qr()

    def action_open_again(self) -> None:
        url = self._shown_url()
        if url is not None and self.state == "browser":
            self._open_again(url)

    def action_new_code(self) -> None:
        if self.state in ("stopped", "accounts"):
            self._start_device_code()

    def action_browser(self) -> None:
        if self.state in ("stopped", "accounts") and self.browser.allowed:
            self._start_browser()

    def action_demo_approve(self) -> None:
        demo = self.wizard.core.demo
        if demo is None:
            return
        if self.state == "waiting":
            demo.approve_device_code()
            self._status("Demo: acted at the (fake) verification page. Finishing…")
        elif self.state == "browser" and self.rehearse_browser:
            url = self._shown_url()
            if url is not None:
                self._demo_browser_page(url)
                self._status("Demo: signing in at the (fake) sign-in page. Finishing…")

    def action_back(self) -> None:
        if self.state in ("waiting", "browser", "signing", "preparing"):
            self.workers.cancel_group(self, "signin")
            self._show_problem(None)
            self._stop("Sign-in cancelled.", "for a new code", back=True)
            return
        super().action_back()

    def next_label(self) -> str:
        resume = self.wizard.core.resume_to
        return "Continue ▶" if resume else "Next ▶"


def who_text(signed: SignedIn, cloud_note: str) -> Text:
    """Who signed in, their directory roles (a hint from the token), and a warning when they lack
    Security Administrator and Global Administrator."""
    text = Text()
    name = signed.display_name or signed.username
    text.append_text(tenant(name, style="bold"))
    if signed.display_name and signed.username:
        text.append_text(plain(" <") + tenant(signed.username) + plain(">"))
    text.append_text(plain("\nTenant ID: ") + tenant(signed.tenant_id))
    roles = ", ".join(signed.role_names) or "none"
    text.append_text(plain("\nDirectory roles: ") + tenant(roles, limit=400)
                     + plain(" (from your sign-in; the checks read them live)", style="italic"))
    if cloud_note:
        text.append_text(plain("\nCloud: " + cloud_note))
    if not signed.may_manage_defender_experts:
        text.append_text(plain(
            "\n⚠ You hold neither Security Administrator nor Global Administrator. You can run the checks, "
            "but setting up Defender Experts in the portal (permissions, service provider access) needs one "
            "of them; notification contacts may need Global Administrator.", style="bold"))
    if signed.missing_scopes:
        text.append_text(plain("\n⚠ Not every permission was granted: " + signed.missing_scopes_explanation()
                               + ". The checks that need them will say 'unknown'.", style="bold"))
    return text
