"""Step 2: sign in with a device code (or a cached account), then show who signed in and their roles.

The MSAL calls run in thread workers of this screen (group ``signin``); leaving the screen or
pressing Esc cancels them, and the core stops polling within about a second.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from dex_tui.auth import (
    AccountChoiceRequired,
    CachedAccount,
    DeviceCodeExpired,
    DeviceCodePrompt,
    SignedIn,
    SignInCancelled,
    SignInRequired,
)
from dex_tui.flow import get_step
from screens import messages as msg
from screens.base import StepScreen
from screens.text import plain, tenant
from screens.workers import as_dex_error

NEW_CODE = "__device_code__"


def spaced_code(code: str) -> str:
    """The user code with a space between characters, easier to read aloud and to type."""
    return " ".join(code)


class SignInScreen(StepScreen):
    STEP_ID = "signin"
    BINDINGS = [
        Binding("c", "copy_code", "Copy code", id="signin.copy"),
        Binding("o", "open_page", "Open page", id="signin.open"),
        Binding("n", "new_code", "New code", id="signin.new"),
        Binding("a", "demo_approve", "Approve", id="signin.demo_approve"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.prompt: DeviceCodePrompt | None = None
        self.prompt_seconds = 0
        self.prompt_received = 0.0
        self.state = "idle"  # idle, preparing, accounts, waiting, signing, signed_in, stopped

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="signin-scroll"):
            if self.wizard.notice:
                yield Static(plain(self.wizard.notice), id="notice")
            yield Static("", id="signin-status")
            yield OptionList(id="accounts")
            with Vertical(id="code-panel"):
                yield Static("", id="code-step-1")
                yield Static("", id="code-url")
                yield Static("2. Enter this code:", id="code-step-2")
                yield Static("", id="user-code")
                yield Static("", id="code-expiry")
            yield Static("", id="who")
            yield Static("", id="cache-notice")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#accounts", OptionList).display = False
        self.query_one("#code-panel").display = False
        self.set_interval(1.0, self._tick)
        if self.wizard.session is not None:
            self._show_signed_in(self.wizard.session)
        else:
            self._prepare()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show each key only when it does something (the footer follows)."""
        waiting = self.state == "waiting" and self.prompt is not None
        if action in ("copy_code", "open_page"):
            return waiting
        if action == "demo_approve":
            return waiting and self.wizard.fake_cloud is not None
        if action == "new_code":
            return self.state in ("stopped", "accounts")
        return True

    # -- state display -------------------------------------------------------------------------

    def _status(self, text: str | Text, style: str = "") -> None:
        self.query_one("#signin-status", Static).update(text if isinstance(text, Text) else plain(text, style))

    def _set_state(self, state: str) -> None:
        self.state = state
        self.refresh_bindings()
        self.refresh_frame()

    # -- workers -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        self._set_state("preparing")
        self._status("Preparing sign-in…")
        self.wizard.ensure_runtime()  # built on the UI thread (no network) before a worker uses it
        if self.wizard.needs_new_code:  # the cached sign-in stopped working: a new code, no picker
            self._start_device_code()
            return
        self._find_accounts()

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _find_accounts(self) -> None:
        """Build the authenticator (may read the tenant's metadata) and list cached accounts."""
        runtime = self.wizard.runtime
        try:
            accounts = runtime.authenticator().accounts()
        except Exception as exc:  # every failure goes to the error dialog
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self.post_message(msg.AccountsFound(accounts, [n.one_line() for n in runtime.cache_notices()]))

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _device_code(self) -> None:
        worker = get_current_worker()
        auth = self.wizard.runtime.authenticator()
        try:
            signed = auth.sign_in_with_device_code(lambda prompt: self.post_message(msg.DeviceCodeIssued(prompt)),
                                                   is_cancelled=lambda: worker.is_cancelled)
        except SignInCancelled:
            self.post_message(msg.SignInCancelled())
            return
        except DeviceCodeExpired:
            self.post_message(msg.DeviceCodeExpired())
            return
        except Exception as exc:
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        self.post_message(msg.SignedIn(signed))

    @work(thread=True, exclusive=True, exit_on_error=False, group="signin")
    def _restore(self, account: CachedAccount) -> None:
        try:
            signed = self.wizard.runtime.authenticator().restore(account)
        except (SignInRequired, AccountChoiceRequired) as exc:
            self.post_message(msg.WorkerFailed(exc, "signin-restore"))
            return
        except Exception as exc:
            self.post_message(msg.WorkerFailed(as_dex_error(exc), "signin"))
            return
        if signed is None:
            self.post_message(msg.WorkerFailed(SignInRequired(
                "That account's saved sign-in is no longer in the cache.", next_step="Sign in with a code."),
                "signin-restore"))
            return
        self.post_message(msg.SignedIn(signed))

    # -- message handlers ----------------------------------------------------------------------

    @on(msg.AccountsFound)
    def _accounts_found(self, message: msg.AccountsFound) -> None:
        message.stop()
        notice = self.query_one("#cache-notice", Static)
        notice.update(plain("\n".join(message.notices), style="italic"))
        notice.display = bool(message.notices)
        if not message.accounts:
            self._start_device_code()
            return
        accounts = self.query_one("#accounts", OptionList)
        accounts.clear_options()
        for account in message.accounts:
            accounts.add_option(Option(tenant(account.label()), id=account.home_account_id))
        accounts.add_option(Option("Sign in with a new code (another account)", id=NEW_CODE))
        self._accounts = {a.home_account_id: a for a in message.accounts}
        accounts.display = True
        accounts.highlighted = 0
        accounts.focus()
        self._status("You signed in on this machine before. Choose an account, or sign in anew:")
        self._set_state("accounts")

    @on(OptionList.OptionSelected, "#accounts")
    def _account_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#accounts", OptionList).display = False
        if event.option_id == NEW_CODE:
            self._start_device_code()
            return
        account = self._accounts[str(event.option_id)]
        self._set_state("signing")
        self._status(plain("Signing in as ") + tenant(account.username, style="bold") + plain("…"))
        self._restore(account)

    def _start_device_code(self) -> None:
        self._set_state("signing")
        self._status("Asking Microsoft Entra for a sign-in code…")
        self._device_code()

    @on(msg.DeviceCodeIssued)
    def _code_issued(self, message: msg.DeviceCodeIssued) -> None:
        message.stop()
        renewed = self.prompt is not None
        prompt: DeviceCodePrompt = message.code
        self.prompt = prompt
        self.prompt_seconds = max(0, round(prompt.expires_at - time.time()))  # MSAL stamps the wall clock
        self.prompt_received = self.wizard.clock()
        self.query_one("#code-step-1", Static).update("1. On any device with a browser, open:")
        url = prompt.verification_uri if prompt.link_allowed else "(the link the identity provider sent is not on "\
            "the allowlist of Microsoft hosts; check --login-url)"
        self.query_one("#code-url", Static).update(tenant(url, style="bold underline", limit=300))
        self.query_one("#user-code", Static).update(tenant(spaced_code(prompt.user_code), style="bold", limit=80))
        self.query_one("#code-panel").display = True
        note = "The previous code expired; here is a new one. " if renewed else ""
        demo = " Demo: press a to approve." if self.wizard.fake_cloud is not None else ""
        self._status(f"{note}Waiting for you to sign in… Esc cancels.{demo}")
        self._set_state("waiting")
        self._tick()

    def _tick(self) -> None:
        if self.state != "waiting" or self.prompt is None:
            return
        elapsed = int(self.wizard.clock() - self.prompt_received)
        left = max(0, self.prompt_seconds - elapsed)
        self.query_one("#code-expiry", Static).update(
            f"Expires in {left // 60:02d}:{left % 60:02d} · c copies the code · o opens the page")

    @on(msg.DeviceCodeExpired)
    def _code_expired(self, message: msg.DeviceCodeExpired) -> None:
        message.stop()
        self._stop("The code expired several times without a sign-in. Press n for a new code.")

    @on(msg.SignInCancelled)
    def _cancelled(self, message: msg.SignInCancelled) -> None:
        message.stop()
        self._stop("Sign-in cancelled. Press n for a new code, or Esc to go back.")

    def _stop(self, text: str) -> None:
        self.prompt = None
        self.query_one("#code-panel").display = False
        self._status(text, "bold")
        self._set_state("stopped")

    @on(msg.WorkerFailed)
    def _failed(self, message: msg.WorkerFailed) -> None:
        """Sign-in errors: the error dialog, then a way to try again. A cached account that no longer
        works falls back to a device code."""
        message.stop()
        if message.group == "signin-restore":
            self.notify(message.error.explanation, title=message.error.title, severity="warning", markup=False)
            self._start_device_code()
            return
        self._stop("Sign-in did not complete. Press n to try again.")
        self.wizard.show_error(message.error)

    @on(msg.SignedIn)
    def _signed_in(self, message: msg.SignedIn) -> None:
        message.stop()
        self.prompt = None
        self.wizard.signed_in(message.session)
        self._show_signed_in(message.session)

    def _show_signed_in(self, signed: SignedIn) -> None:
        self.query_one("#code-panel").display = False
        self.query_one("#accounts", OptionList).display = False
        following = get_step(self.wizard.resume_to).title if self.wizard.resume_to else "the live checks"
        self._status(plain("✔ Signed in. ", style="bold") + plain(f"Next ▶ (Enter) goes on to {following}."))
        self.query_one("#who", Static).update(who_text(signed, self.wizard.cloud_note()))
        self._set_state("signed_in")
        self.query_one("#next").focus()

    # -- actions -------------------------------------------------------------------------------

    def action_copy_code(self) -> None:
        if self.prompt is None:
            return
        self.app.copy_to_clipboard(self.prompt.user_code)
        self.notify("Code copied through the terminal (OSC 52). If your terminal ignores it, type the code "
                    "shown.", markup=False)

    def action_open_page(self) -> None:
        if self.prompt is not None and self.prompt.link_allowed:
            self.app.open_url(self.prompt.verification_uri)

    def action_new_code(self) -> None:
        if self.state in ("stopped", "accounts"):
            self.query_one("#accounts", OptionList).display = False
            self._start_device_code()

    def action_demo_approve(self) -> None:
        cloud = self.wizard.fake_cloud
        if cloud is not None and self.state == "waiting":
            cloud.approve_device_code()
            self._status("Demo: sign-in approved at the (fake) verification page. Finishing…")

    def action_back(self) -> None:
        if self.state in ("waiting", "signing", "preparing"):
            self.workers.cancel_group(self, "signin")
            self._stop("Sign-in cancelled. Press n for a new code, or Esc to go back.")
            return
        super().action_back()

    def next_label(self) -> str:
        resume = self.wizard.resume_to
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
