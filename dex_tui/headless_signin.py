"""Sign-in for the headless commands (``dex-tui signin``, ``dex-tui check``): silently from the cache, else
by device code (or the browser), with every instruction and notice on stderr, never on stdout."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dex_tui import TOOL_NAME, console
from dex_tui.errors import UsageError

if TYPE_CHECKING:
    from dex_tui.auth import Authenticator, CachedAccount, DeviceCodePrompt, SignedIn, SignInRetry
    from dex_tui.runtime import Runtime


def _err(text: str) -> None:
    console.err(text)


def headless_sign_in(runtime: Runtime, *, interactive: bool = True, account: str | None = None,
                     browser: bool = False, port: int | None = None) -> SignedIn:
    """Sign in for a headless command: silently from the cache, else (when ``interactive``) by device
    code (or the browser), with every instruction and notice on stderr. Raises a typed SignInError
    (exit 3) when it cannot; ``interactive=False`` is ``--no-interactive``.
    """
    from dex_tui.auth import AccountChoiceRequired, SignInRequired

    auth = runtime.authenticator()
    for notice in runtime.cache_notices():
        _err(f"Note: {notice.one_line()}")
    choice = runtime.resolve_cloud()
    if choice.source == "detected":
        _err(f"Cloud: {choice.cloud.label}. {choice.note}")

    signed: SignedIn | None = None
    chosen = auth.choose_account(account) if account else None
    try:
        signed = auth.restore(chosen, on_retry=_retrying)
    except AccountChoiceRequired as several:
        if not interactive or not sys.stdin.isatty():
            raise
        signed = auth.restore(_ask_account(several.accounts), on_retry=_retrying)
    except SignInRequired as why:
        if not interactive:
            raise
        _err(f"{why.explanation} Signing in again.")
    if signed is None:
        if not interactive:
            raise SignInRequired(
                "No remembered sign-in can be used silently and --no-interactive forbids asking.",
                next_step=_no_interactive_advice(runtime))
        signed = _browser(auth, port) if browser else _device_code(runtime, auth)
    return signed


def _no_interactive_advice(runtime: Runtime) -> str:
    """What can make ``--no-interactive`` work: in demo mode or with a memory cache, nothing can."""
    if runtime.settings.is_demo:
        return ("Demo mode remembers no sign-in between runs (its token cache is in memory), so leave out "
                "--no-interactive: the demo approves its own device code.")
    if runtime.cache_store.mode == "memory":
        return ("With --token-cache memory no sign-in is remembered between runs: use the keyring cache "
                f"and run '{TOOL_NAME} signin' once, or leave out --no-interactive.")
    if not runtime.cache_store.persistent:
        return ("No OS keyring is available here, so no sign-in is remembered between runs (see the note "
                "above): leave out --no-interactive, or set up a keyring (Secret Service) first.")
    return (f"Run '{TOOL_NAME} signin' once interactively (with a working OS keyring the sign-in is "
            "remembered).")


def _device_code(runtime: Runtime, auth: Authenticator) -> SignedIn:
    def show(prompt: DeviceCodePrompt) -> None:
        _err(prompt.instruction())
        _err("Waiting for the sign-in to complete (Ctrl+C to stop)...")
        cloud = runtime.fake_cloud
        if cloud is not None and cloud.scenario.behaviour.device_code.approval == "on_demand":
            _err("(demo: approving the code as the operator would at the sign-in page)")
            cloud.approve_device_code()

    return auth.sign_in_with_device_code(show, on_retry=_retrying)


def _retrying(notice: SignInRetry) -> None:
    _err(notice.one_line())


def _browser(auth: Authenticator, port: int | None) -> SignedIn:
    from dex_tui.auth import BrowserSignInUnavailable

    policy = auth.browser_policy()
    if not policy.allowed and port is None:
        raise BrowserSignInUnavailable(
            f"The browser sign-in is not available: {policy.reason}.",
            next_step="Use the device code sign-in (dex-tui signin), or forward a port over SSH "
                      "(ssh -L 8400:localhost:8400 HOST) and run 'dex-tui signin --browser --port 8400'.")

    def show_url(url: str) -> None:
        _err(f"Open this address in a browser on the machine that forwards port {port or 'the port'} "
             "to this one (ssh -L), sign in, and come back here:")
        _err(url)
        _err("Waiting for the sign-in to complete (Ctrl+C to stop)...")

    if policy.allowed:
        _err("Opening the sign-in page in your browser...")
    return auth.sign_in_with_browser(show_url=show_url, port=port or 0, open_browser=policy.allowed,
                                     on_retry=_retrying)


def _ask_account(accounts: list[CachedAccount]) -> CachedAccount:
    _err("Several accounts are remembered on this machine:")
    for number, account in enumerate(accounts, 1):
        _err(f"  {number}. {account.label()}")
    while True:
        _err(f"Which one (1-{len(accounts)})? ")
        answer = sys.stdin.readline()
        if not answer:
            raise UsageError("No account was chosen.", next_step="Pass --account USERNAME.")
        if answer.strip().isdigit() and 1 <= int(answer) <= len(accounts):
            return accounts[int(answer) - 1]
